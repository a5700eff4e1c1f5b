"""Projection of each modality's tokens to the fusion width."""
from typing import Dict, List, Optional

from torch import Tensor, nn


class ModalityProjection(nn.ModuleDict):
    """Project tokens (B, L_m, C_m) of every modality to one width C.

    A Linear C_m -> C for each modality whose width differs from C; the
    others pass through unchanged. The entries are keyed by modality name,
    so a head holding this layer as ``projections`` keeps the checkpoint
    keys ``projections.<m>.weight`` / ``.bias``.

    Args:
        in_channels (dict[str, int]): C_m per modality, in the head's order.
        fusion_dim (int, optional): C. Defaults to None: the common C_m,
            which the modalities must then share.
    """

    def __init__(self, in_channels: Dict[str, int],
                 fusion_dim: Optional[int] = None) -> None:
        if fusion_dim is None:
            widths = set(in_channels.values())
            if len(widths) != 1:
                raise ValueError(
                    f'in_channels differ ({in_channels}): set fusion_dim to '
                    'the common width to project them to.')
            fusion_dim = widths.pop()
        if isinstance(fusion_dim, bool) or not isinstance(fusion_dim, int) \
                or fusion_dim < 1:
            raise ValueError(
                f'fusion_dim must be a positive int, got {fusion_dim!r}.')
        super().__init__({
            name: nn.Linear(channels, fusion_dim)
            for name, channels in in_channels.items()
            if channels != fusion_dim
        })
        self.modality_order = list(in_channels)
        self.fusion_dim = fusion_dim

    def forward(self, feats: Dict[str, Tensor]) -> List[Tensor]:
        """Tokens (B, L_m, C) of every modality, in ``in_channels`` order.

        Args:
            feats (dict): Tokens (B, L_m, C_m) per modality.

        Returns:
            list[Tensor]: The projected tokens, one entry per modality.
        """
        return [
            self[name](feats[name]) if name in self else feats[name]
            for name in self.modality_order
        ]
