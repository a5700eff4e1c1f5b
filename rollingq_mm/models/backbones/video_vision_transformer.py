"""ViT over a short clip: frames patched like images, one joint sequence."""
import math
from typing import Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmpretrain.models.backbones import VisionTransformer

from mmaction.registry import MODELS
from ..utils.pos_embed import image_to_video_pos_embed, resize_video_pos_embed


@MODELS.register_module()
class VideoVisionTransformer(VisionTransformer):
    """mmpretrain's ViT applied to a clip of T frames, as a single sequence.

    The visual tower of the "vanilla multimodal transformer" of RollingQ
    (Ni et al., "RollingQ: Reviving the Cooperation Dynamics in Multimodal
    Transformer", ICML 2025, https://arxiv.org/abs/2506.11465): each frame
    is cut into 16x16 patches by the image patch embedding (identical to a
    Conv3d with a (1, 16, 16) tubelet), the patches of all frames and one
    CLS token form one sequence ``(B, 1 + T*H'*W', C)`` with a learned joint
    space-time position embedding, and the transformer layers of
    mmpretrain's :class:`VisionTransformer` run over it. With T = 3 frames of
    224x224 the sequence has 1 + 3*196 = 589 tokens.

    Weights of an image ViT load directly except the position table: a
    checkpoint with an image table ``(1, 1 + h*w, C)`` (square grid) is
    resized to the frame grid and repeated for every frame on load, and
    ``tools/model_converters/vit_to_rollingq.py`` does the same offline.
    A table of another space-time grid is resized by trilinear interpolation.

    Args:
        num_frames (int): Number of frames T of the clips; a clip of another
            length gets an interpolated position table. Defaults to 3.
        **kwargs: The arguments of mmpretrain's ``VisionTransformer``
            (``arch``, ``img_size``, ``patch_size``, ``out_type``, ...).
            ``out_type='featmap'`` returns (B, C, T, H', W').
    """

    def __init__(self, num_frames: int = 3, **kwargs) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_frames, int) or num_frames < 1:
            raise ValueError(
                f'num_frames must be a positive integer, got {num_frames!r}.')
        self.num_frames = num_frames
        height, width = self.patch_resolution
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + num_frames * height * width,
                        self.embed_dims))

    @property
    def token_grid(self) -> Tuple[int, int, int]:
        """(T, H', W') grid of the position table."""
        return (self.num_frames, *self.patch_resolution)

    def _prepare_pos_embed(self, state_dict: dict, prefix: str, *args,
                           **kwargs) -> None:
        """Fit a checkpoint's position table to this model on load."""
        name = prefix + 'pos_embed'
        if name not in state_dict:
            return
        table = state_dict[name]
        if (not self.with_cls_token
                and table.shape[1] == self.pos_embed.shape[1] + 1):
            table = table[:, 1:]
        if table.shape != self.pos_embed.shape:
            num_patches = table.shape[1] - self.num_extra_tokens
            side = math.isqrt(max(num_patches, 0))
            if table.dim() != 3 or side * side != num_patches:
                raise ValueError(
                    f'Checkpoint key {name} has shape {tuple(table.shape)}, '
                    'which is neither this model\'s '
                    f'{tuple(self.pos_embed.shape)} nor a square image '
                    'table; convert the checkpoint with '
                    'tools/model_converters/vit_to_rollingq.py.')
            print_log(
                f'{name}: image table {tuple(table.shape)} resized to the '
                f'{self.patch_resolution} grid and repeated over '
                f'{self.num_frames} frames.',
                logger='current')
            table = image_to_video_pos_embed(table, (side, side),
                                             self.patch_resolution,
                                             self.num_frames,
                                             self.num_extra_tokens)
        state_dict[name] = table

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Encode clips.

        Args:
            x (Tensor): Clips (B, C, T, H, W).

        Returns:
            tuple[Tensor]: One output per ``out_indices``, formatted by
            ``out_type``: 'raw' (B, 1 + T*H'*W', C), 'cls_token' (B, C),
            'featmap' (B, C, T, H', W'), 'avg_featmap' (B, C).
        """
        if x.dim() != 5:
            raise ValueError('VideoVisionTransformer expects clips '
                             f'(B, C, T, H, W), got shape {tuple(x.shape)}.')
        batch, channels, num_frames, height, width = x.shape
        frames = x.transpose(1, 2).reshape(batch * num_frames, channels,
                                           height, width)
        tokens, patch_grid = self.patch_embed(frames)
        grid = (num_frames, *patch_grid)
        tokens = tokens.reshape(batch, -1, tokens.shape[-1])
        if self.cls_token is not None:
            tokens = torch.cat(
                (self.cls_token.expand(batch, -1, -1), tokens), dim=1)
        tokens = tokens + resize_video_pos_embed(
            self.pos_embed, self.token_grid, grid, self.num_extra_tokens)
        tokens = self.pre_norm(self.drop_after_pos(tokens))

        outs = []
        for i, layer in enumerate(self.layers):
            tokens = layer(tokens)
            if i == len(self.layers) - 1 and self.final_norm:
                tokens = self.ln1(tokens)
            if i in self.out_indices:
                outs.append(self._format_output(tokens, grid))
        return tuple(outs)

    def _format_output(self, x: torch.Tensor,
                       grid: Sequence[int]) -> torch.Tensor:
        """Format the tokens (B, E + T*H'*W', C) as ``out_type`` says."""
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return x[:, 0]
        patches = x[:, self.num_extra_tokens:]
        if self.out_type == 'featmap':
            return patches.reshape(x.shape[0], *grid, -1).permute(
                0, 4, 1, 2, 3)
        return self.ln2(patches.mean(dim=1))
