"""Late fusion by concatenation: the concat baseline of RollingQ's tables."""
from typing import Dict, Tuple

import torch
import torch.nn as nn
from mmaction.registry import MODELS
from torch import Tensor

from .base_av_head import BaseAVHead


@MODELS.register_module()
class ConcatFusionHead(BaseAVHead):
    """Pool each modality's tokens, concatenate, classify with one Linear.

    The "concat fusion" baseline reported beside the vanilla multimodal
    transformer in RollingQ (Ni et al., ICML 2025,
    https://arxiv.org/abs/2506.11465): ``logits = FC([p_1; ...; p_M])`` with
    ``p_m`` the pooled tokens (B, C_m) of modality m. It has no attention, so
    it reports no ``attn_<m>`` / ``air``; the unimodal probes of
    :class:`BaseAVHead` are the same as in every other head, so all runs
    report the same ``acc/<modality>_top1`` metrics.

    The pooling of the classifier is the probes' ``probe_pool``.

    Args:
        num_classes (int): K, the number of classes.
        dropout (float): Dropout on the concatenated features. Defaults to
            0.0.
        **kwargs: The arguments of :class:`BaseAVHead` (``modalities``,
            ``in_channels``, ``probe_pool``, ``loss_cls``,
            ``probe_loss_weight``, ``init_cfg``).
    """

    def __init__(self, num_classes: int, dropout: float = 0.0,
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}.')
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(sum(self.in_channels.values()), num_classes)

    def forward_fusion(
        self, feats: Dict[str, Tensor]
    ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Fused logits of the concatenated pooled features.

        Args:
            feats (dict): Tokens (B, L_m, C_m) per modality.

        Returns:
            tuple: Logits (B, K) and an empty extras dict.
        """
        pooled = [self.pool(feats[m]) for m in self.modalities]
        return self.fc_cls(self.dropout(torch.cat(pooled, dim=-1))), {}
