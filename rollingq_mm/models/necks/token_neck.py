"""Turn the output of any encoder into a token sequence for a fusion head."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmaction.registry import MODELS


def pool_tokens(tokens: torch.Tensor, size: int) -> torch.Tensor:
    """Average-pool a sequence ``(B, L, C)`` to ``(B, size, C)``.

    The numbers of ``F.adaptive_avg_pool1d`` over positions (output ``i``
    is the mean of positions ``[floor(i * L / size), ceil((i + 1) * L /
    size))``), computed by a mean over equal windows when ``size`` divides
    ``L`` and else by a fixed averaging matrix. Unlike adaptive pooling,
    whose CUDA backward has no deterministic implementation, both run
    under ``torch.use_deterministic_algorithms(True)``.

    Args:
        tokens (Tensor): Tokens (B, L, C).
        size (int): Number of output tokens.

    Returns:
        Tensor: Tokens (B, size, C).
    """
    length = tokens.shape[1]
    if length % size == 0:
        return tokens.reshape(tokens.shape[0], size, length // size,
                              tokens.shape[2]).mean(2)
    index = torch.arange(size, device=tokens.device)
    start = index * length // size
    end = -(-(index + 1) * length // size)
    position = torch.arange(length, device=tokens.device)
    window = (position >= start[:, None]) & (position < end[:, None])
    weight = window.to(tokens.dtype) / (end - start)[:, None].to(tokens.dtype)
    return torch.matmul(weight, tokens)


def interpolate_positions(table: torch.Tensor, length: int) -> torch.Tensor:
    """Resize a position table ``(1, P, C)`` to ``(1, length, C)``.

    The numbers of ``F.interpolate(mode='linear', align_corners=False)``
    over positions, computed by a fixed ``(length, P)`` interpolation
    matrix, whose backward (unlike ``upsample_linear1d``'s on CUDA) is
    deterministic.

    Args:
        table (Tensor): Position table (1, P, C).
        length (int): Number of positions wanted.

    Returns:
        Tensor: Table (1, length, C).
    """
    size = table.shape[1]
    # Source positions as PyTorch's kernels compute them, for the same
    # weights: in double for double tables, else in float, the scale
    # rounded first and ``scale * (i + 0.5) - 0.5`` rounded once (a fused
    # multiply-add).
    dtype = torch.float64 if table.dtype == torch.float64 else torch.float32
    scale = (torch.tensor(size, dtype=dtype) / length).item()
    source = (torch.arange(length, device=table.device, dtype=torch.float64)
              + 0.5) * scale - 0.5
    source = source.to(dtype).clamp(min=0)
    left = source.floor().clamp(max=size - 1)
    right = (left + 1).clamp(max=size - 1)
    weight_right = (source - left).clamp(0, 1)[:, None]
    position = torch.arange(size, device=table.device, dtype=dtype)
    weight = ((1 - weight_right) * (position == left[:, None]) +
              weight_right * (position == right[:, None]))
    return torch.matmul(weight.to(table.dtype), table)


@MODELS.register_module()
class TokenNeck(BaseModule):
    """Tokens ``(B, L, C)`` from an encoder's output, one neck per modality.

    The fusion heads of this package attend over token sequences. Encoders
    produce many shapes; this neck reads them as follows:

    * a tuple or list (multi-stage outputs): the last element is used;
    * ``(B, C)`` pooled features: one token;
    * ``(B, L, C)`` tokens (mmpretrain ``VisionTransformer`` with
      ``out_type='raw'``, :class:`VideoVisionTransformer`): used as they are
      (a 3-D output is always read as tokens, channels last);
    * ``(B, C, H, W)`` (2-D CNNs, ViT ``out_type='featmap'``) and
      ``(B, C, T, H, W)`` (3-D CNNs) feature maps: one token per position,
      positions flattened in row-major order.

    When the encoder ran frame by frame (``num_frames > 1``, see
    :class:`AudioVisualRecognizer`), the tokens of the ``T`` frames of a clip
    are concatenated in time order: ``(B * T, L, C) -> (B, T * L, C)``.
    Then, in this order: the sequence is bounded by adaptive average pooling
    over positions to ``max_tokens`` (:func:`pool_tokens`, deterministic on
    CUDA), projected by a Linear layer to
    ``out_channels``, given a learned position embedding (``add_pos_embed``,
    for encoders without one, e.g. CNNs) and a learned modality embedding,
    and optionally layer-normalised.

    Args:
        in_channels (int): Channel width of the encoder's output, checked on
            every forward (a mismatch raises ``ValueError`` with the width
            found).
        out_channels (int, optional): Width of the output tokens; a Linear
            projection is added when it differs from ``in_channels``.
            Defaults to None (keep ``in_channels``).
        max_tokens (int, optional): Upper bound on the number of tokens L;
            longer sequences are average-pooled over the flattened
            positions to exactly ``max_tokens``, with the windows of
            ``adaptive_avg_pool1d`` (see :func:`pool_tokens`). Defaults to
            None (no bound).
        add_pos_embed (bool): Add a learned position embedding of
            ``num_positions`` entries, linearly interpolated
            (``align_corners=False``, see :func:`interpolate_positions`)
            when a sequence has another length. Defaults to False.
        num_positions (int, optional): Length of the position table. Defaults
            to None, meaning ``max_tokens`` (one of them is required when
            ``add_pos_embed=True``).
        modality_embed (bool): Add a learned vector ``(1, 1, C)`` to every
            token, telling the fusion layer which modality a token comes
            from. Defaults to True.
        norm (bool): Apply a LayerNorm to the output tokens. Defaults to
            False.
        modality (str): Name of the modality, used in error messages.
            Defaults to ``''``.
        init_cfg (dict or list[dict], optional): Initialisation config.
            Defaults to None (embeddings trunc-normal with std 0.02, Linear
            as PyTorch's default).
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 max_tokens: Optional[int] = None,
                 add_pos_embed: bool = False,
                 num_positions: Optional[int] = None,
                 modality_embed: bool = True,
                 norm: bool = False,
                 modality: str = '',
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.modality = modality
        for key, value in (('in_channels', in_channels),
                           ('out_channels', out_channels),
                           ('max_tokens', max_tokens),
                           ('num_positions', num_positions)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f'{self._name()}: {key} must be a positive '
                                 f'integer, got {value!r}.')
        if add_pos_embed and num_positions is None and max_tokens is None:
            raise ValueError(
                f'{self._name()}: add_pos_embed=True needs num_positions or '
                'max_tokens (the length of the position table).')
        self.in_channels = in_channels
        self.out_channels = out_channels or in_channels
        self.max_tokens = max_tokens
        self.proj = (
            nn.Linear(in_channels, self.out_channels)
            if self.out_channels != in_channels else nn.Identity())
        self.pos_embed = None
        if add_pos_embed:
            self.pos_embed = nn.Parameter(
                torch.zeros(1, num_positions or max_tokens, self.out_channels))
        self.modality_embed = (
            nn.Parameter(torch.zeros(1, 1, self.out_channels))
            if modality_embed else None)
        self.norm = nn.LayerNorm(self.out_channels) if norm else nn.Identity()

    def _name(self) -> str:
        """Prefix of error messages: which modality's tokenizer."""
        return (f'TokenNeck of modality "{self.modality}"'
                if self.modality else 'TokenNeck')

    def init_weights(self) -> None:
        """Initialise the embeddings (trunc-normal, std 0.02)."""
        super().init_weights()
        if self.init_cfg is None:
            for embed in (self.pos_embed, self.modality_embed):
                if embed is not None:
                    trunc_normal_(embed, std=0.02)

    def to_tokens(self, x: Union[torch.Tensor, Sequence],
                  num_frames: int = 1) -> torch.Tensor:
        """Read an encoder output as tokens, before pooling and projection.

        Args:
            x (Tensor | tuple | list): Encoder output (see the class doc).
            num_frames (int): Frames per clip when the encoder ran frame by
                frame; their tokens are concatenated. Defaults to 1.

        Returns:
            Tensor: Tokens (B, L, C_in).
        """
        while isinstance(x, (tuple, list)):
            if len(x) == 0:
                raise ValueError(f'{self._name()}: the encoder returned an '
                                 'empty tuple.')
            x = x[-1]
        if not isinstance(x, torch.Tensor):
            raise TypeError(f'{self._name()}: the encoder output must be a '
                            f'tensor or a tuple of tensors, got {type(x)}.')
        if x.dim() == 2:
            tokens = x.unsqueeze(1)
        elif x.dim() == 3:
            tokens = x
        elif x.dim() in (4, 5):
            tokens = x.flatten(2).transpose(1, 2)
        else:
            raise ValueError(
                f'{self._name()}: cannot read an encoder output of shape '
                f'{tuple(x.shape)} as tokens; expected (B, C), (B, L, C), '
                '(B, C, H, W) or (B, C, T, H, W).')
        if tokens.shape[-1] != self.in_channels:
            raise ValueError(
                f'{self._name()}: the encoder output of shape '
                f'{tuple(x.shape)} has {tokens.shape[-1]} channels, but the '
                f'tokenizer expects in_channels={self.in_channels}. Set '
                f'in_channels={tokens.shape[-1]} in the tokenizer config of '
                'this modality (or change the encoder).')
        if num_frames > 1:
            if tokens.shape[0] % num_frames:
                raise ValueError(
                    f'{self._name()}: {tokens.shape[0]} frame outputs cannot '
                    f'be grouped into clips of {num_frames} frames.')
            tokens = tokens.reshape(-1, num_frames * tokens.shape[1],
                                    tokens.shape[2])
        return tokens

    def forward(self, x: Union[torch.Tensor, Sequence],
                num_frames: int = 1) -> torch.Tensor:
        """Tokens for the fusion head.

        Args:
            x (Tensor | tuple | list): Encoder output (see the class doc).
            num_frames (int): Frames per clip when the encoder ran frame by
                frame. Defaults to 1.

        Returns:
            Tensor: Tokens (B, L, C) with ``L <= max_tokens`` and
            ``C = out_channels``.
        """
        tokens = self.to_tokens(x, num_frames)
        if self.max_tokens is not None and tokens.shape[1] > self.max_tokens:
            tokens = pool_tokens(tokens, self.max_tokens)
        tokens = self.proj(tokens)
        if self.pos_embed is not None:
            pos_embed = self.pos_embed
            if pos_embed.shape[1] != tokens.shape[1]:
                pos_embed = interpolate_positions(pos_embed, tokens.shape[1])
            tokens = tokens + pos_embed
        if self.modality_embed is not None:
            tokens = tokens + self.modality_embed
        return self.norm(tokens)
