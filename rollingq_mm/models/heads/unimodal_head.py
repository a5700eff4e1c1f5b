"""A head that classifies from one modality: the unimodal baselines."""
from typing import Dict, Optional, Tuple

import torch.nn as nn
from mmaction.registry import MODELS
from torch import Tensor

from .base_av_head import BaseAVHead


@MODELS.register_module()
class UnimodalHead(BaseAVHead):
    """Classify from the pooled tokens of one modality only.

    The unimodal baselines against which RollingQ (Ni et al., ICML 2025,
    https://arxiv.org/abs/2506.11465) measures how much fusion adds:
    ``logits = FC(pool(x_m))`` for the chosen modality m. The probes of
    :class:`BaseAVHead` stay, one per modality, so the run reports the same
    metrics as the fusion heads. In a recognizer with several modalities the
    other encoders receive no gradient (their probes read detached tokens):
    build a recognizer with the one modality, or, under DDP, set
    ``model_wrapper_cfg=dict(type='MMDistributedDataParallel',
    find_unused_parameters=True)``.

    The pooling of the classifier is the probes' ``probe_pool``.

    Args:
        num_classes (int): K, the number of classes.
        modality (str, optional): The modality classified. Defaults to None,
            allowed only when ``modalities`` has a single name, which is
            then used.
        dropout (float): Dropout before the classifier. Defaults to 0.0.
        **kwargs: The arguments of :class:`BaseAVHead` (``modalities``,
            ``in_channels``, ``probe_pool``, ``loss_cls``,
            ``probe_loss_weight``, ``init_cfg``).
    """

    def __init__(self,
                 num_classes: int,
                 modality: Optional[str] = None,
                 dropout: float = 0.0,
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if modality is None:
            if len(self.modalities) != 1:
                raise ValueError(
                    'UnimodalHead: set modality to one of '
                    f'{self.modalities}.')
            modality = self.modalities[0]
        if modality not in self.modalities:
            raise ValueError(f'UnimodalHead: modality {modality!r} is not '
                             f'one of {self.modalities}.')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'dropout must be in [0, 1), got {dropout}.')
        self.modality = modality
        self.dropout = nn.Dropout(dropout)
        self.fc_cls = nn.Linear(self.in_channels[modality], num_classes)

    def forward_fusion(
        self, feats: Dict[str, Tensor]
    ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Logits of the chosen modality.

        Args:
            feats (dict): Tokens (B, L_m, C_m) per modality.

        Returns:
            tuple: Logits (B, K) and an empty extras dict.
        """
        return self.fc_cls(self.dropout(self.pool(feats[self.modality]))), {}
