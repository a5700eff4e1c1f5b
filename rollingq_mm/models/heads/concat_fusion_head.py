"""Late fusion by concatenation: the concat baseline of RollingQ's tables."""
from typing import Dict, Optional, Sequence, Tuple, Union

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

    Args:
        num_classes (int): K, the number of classes.
        modalities (Sequence[str]): Modality names in a fixed order.
            Defaults to ``('audio', 'visual')``.
        in_channels (int | dict): C_m per modality (int for all). Defaults to
            768.
        dropout (float): Dropout on the concatenated features. Defaults to
            0.0.
        probe_pool (str): Pooling of the tokens (B, L_m, C_m) -> (B, C_m),
            'mean' over tokens or 'cls' (token 0), for the classifier and the
            probes alike. Defaults to 'mean'.
        loss_cls (dict): Classification loss config. Defaults to
            ``dict(type='CrossEntropyLoss')``.
        probe_loss_weight (float): Weight of each probe's loss. Defaults to
            1.0.
        init_cfg (dict, optional): Initialisation config. Defaults to None.
    """

    def __init__(self,
                 num_classes: int,
                 modalities: Sequence[str] = ('audio', 'visual'),
                 in_channels: Union[int, Dict[str, int]] = 768,
                 dropout: float = 0.0,
                 probe_pool: str = 'mean',
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 probe_loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(
            num_classes=num_classes,
            modalities=modalities,
            in_channels=in_channels,
            probe_pool=probe_pool,
            loss_cls=loss_cls,
            probe_loss_weight=probe_loss_weight,
            init_cfg=init_cfg)
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
