"""Fusion through shared bottleneck tokens: the MBT baseline of RollingQ."""
from typing import Dict, Optional, Tuple

import torch.nn as nn
from mmaction.registry import MODELS
from torch import Tensor

from ...keys import BOTTLENECK_SCALAR, BOTTLENECK_SHARE_KEY
from ..layers import BottleneckFusion, ModalityProjection
from .base_av_head import BaseAVHead


@MODELS.register_module()
class MBTFusionHead(BaseAVHead):
    """Per-modality encoder layers exchanging through bottleneck tokens.

    MBT (Nagrani et al., "Attention Bottlenecks for Multimodal Fusion",
    NeurIPS 2021, https://arxiv.org/abs/2107.00135), the "stronger dynamic
    fusion" of RollingQ's comparison, on top of any tower pair. Tokens x_m
    (B, L_m, C_m) are projected to C = ``fusion_dim`` when C_m differs; then
    :class:`~rollingq_mm.models.layers.BottleneckFusion` (``fusion``) runs
    each modality's own pre-norm encoder layers over [CLS_m; x_m; z_fsn] and
    replaces the bottleneck tokens z_fsn by the mean of the modalities'
    updates after every layer. As in the paper, each modality's CLS output
    goes through the same linear classifier and the logits are averaged::

        logits = (1 / M) Σ_m FC(LN(CLS_m^L))

    The head reports, per sample, the bottleneck share: the attention mass
    of each modality's CLS on the bottleneck tokens in the last layer
    (extra ``bottleneck_share`` (B, M)); :meth:`loss` logs its batch mean
    as ``bottleneck_attn_<m>``. The unimodal probes of :class:`BaseAVHead`
    are the same as in every other head.

    Args:
        num_classes (int): K, the number of classes.
        fusion_dim (int, optional): C. Defaults to None: the common C_m
            (then all C_m must be equal).
        num_layers (int): Encoder layers per modality. Defaults to 4 (the
            paper's MBT-B fuses in the last 4 of its 12 layers).
        num_bottlenecks (int): Bottleneck tokens; 0 gives late fusion (no
            exchange). Defaults to 4, as in the paper.
        num_heads (int): Attention heads; must divide ``fusion_dim``.
            Defaults to 8.
        mlp_ratio (float): MLP hidden width over C. Defaults to 4.0.
        dropout (float): Dropout of the layers' projections and MLPs.
            Defaults to 0.0.
        attn_drop (float): Dropout on attention weights. Defaults to 0.0.
        fusion_layer (int): Index of the first layer that attends over the
            bottleneck; earlier layers are unimodal. Defaults to 0.
        **kwargs: The arguments of :class:`BaseAVHead` (``modalities``, at
            least two; ``in_channels``, ``probe_pool``, ``loss_cls``,
            ``probe_loss_weight`` and ``init_cfg``: by default every Linear
            Xavier-normal with zero bias; CLS and bottleneck tokens stay
            trunc-normal, std 0.02).
    """

    def __init__(self,
                 num_classes: int,
                 fusion_dim: Optional[int] = None,
                 num_layers: int = 4,
                 num_bottlenecks: int = 4,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.0,
                 dropout: float = 0.0,
                 attn_drop: float = 0.0,
                 fusion_layer: int = 0,
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if len(self.modalities) < 2:
            raise ValueError('MBTFusionHead needs at least two modalities, '
                             f'got {self.modalities}.')
        self.projections = ModalityProjection(self.in_channels, fusion_dim)
        fusion_dim = self.projections.fusion_dim
        self.fusion_dim = fusion_dim
        self.fusion = BottleneckFusion(
            fusion_dim, len(self.modalities), num_layers=num_layers,
            num_bottlenecks=num_bottlenecks, num_heads=num_heads,
            mlp_ratio=mlp_ratio, dropout=dropout, attn_drop=attn_drop,
            fusion_layer=fusion_layer)
        self.fc_cls = nn.Linear(fusion_dim, num_classes)

    def forward_fusion(self, feats: Dict[str, Tensor]
                       ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Averaged logits of the modalities' CLS outputs.

        Args:
            feats (dict): One tensor (B, L_m, C_m) per modality.

        Returns:
            tuple: Logits (B, K) and extras ``bottleneck_share`` (B, M) and
            ``bottleneck_attn_<m>`` (its batch mean, 0-dim) per modality.
        """
        tokens = self.projections(feats)
        cls, share = self.fusion(tokens)
        logits = self.fc_cls(cls).mean(dim=1)
        extras = {BOTTLENECK_SHARE_KEY: share}
        for index, name in enumerate(self.modalities):
            extras[BOTTLENECK_SCALAR.format(name)] = share[:, index].mean()
        return logits, extras
