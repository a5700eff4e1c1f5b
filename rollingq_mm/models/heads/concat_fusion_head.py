"""Late fusion by concatenation: the concat baseline of RollingQ's tables."""
from typing import Dict, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from torch import Tensor

from ...keys import UNIMODAL_LOGITS_KEY
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

    The fused logits split into one part per modality, W_m p_m + b / M with
    W_m the classifier's columns of modality m (the parts sum to the fused
    logits; OGM-GE's way, b / 2 for two modalities): while ``OGMGEHook``
    uses the head (``ogm_scores`` set), ``forward_fusion`` reports them,
    detached, as the ``unimodal_logits`` extra (B, M, K).

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
            tuple: Logits (B, K) and the extras: empty, or with
            ``ogm_scores`` set ``{'unimodal_logits': (B, M, K)}``, the
            detached per-modality parts.
        """
        pooled = [self.pool(feats[m]) for m in self.modalities]
        features = self.dropout(torch.cat(pooled, dim=-1))
        if self.ogm_scores is None:
            return self.fc_cls(features), {}
        widths = list(self.in_channels.values())
        bias = self.fc_cls.bias.detach() / len(widths)
        parts = [
            F.linear(part, weight, bias) for part, weight in zip(
                features.detach().split(widths, dim=-1),
                self.fc_cls.weight.detach().split(widths, dim=1))
        ]
        return self.fc_cls(features), {
            UNIMODAL_LOGITS_KEY: torch.stack(parts, dim=1)}
