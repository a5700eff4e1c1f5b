"""Position-embedding tables of the video tower: resizing and image->video."""
from typing import Sequence

import torch
import torch.nn.functional as F
from mmpretrain.models.utils import resize_pos_embed


def resize_video_pos_embed(pos_embed: torch.Tensor, src_shape: Sequence[int],
                           dst_shape: Sequence[int],
                           num_extra_tokens: int = 1) -> torch.Tensor:
    """Resize a space-time position table by trilinear interpolation.

    Args:
        pos_embed (Tensor): Table (1, E + T*H*W, C); E extra tokens (CLS)
            first, then the patches in (T, H, W) row-major order.
        src_shape (Sequence[int]): (T, H, W) grid of ``pos_embed``.
        dst_shape (Sequence[int]): (T', H', W') grid wanted.
        num_extra_tokens (int): Number E of leading extra tokens, kept as
            they are. Defaults to 1.

    Returns:
        Tensor: Table (1, E + T'*H'*W', C), in the dtype of ``pos_embed``.
    """
    src_shape, dst_shape = tuple(src_shape), tuple(dst_shape)
    num_src = src_shape[0] * src_shape[1] * src_shape[2]
    if pos_embed.shape[1] != num_extra_tokens + num_src:
        raise ValueError(
            f'A position table of {pos_embed.shape[1]} entries does not fit '
            f'{num_extra_tokens} extra tokens + a {src_shape} (T, H, W) grid.')
    if src_shape == dst_shape:
        return pos_embed
    extra = pos_embed[:, :num_extra_tokens]
    grid = pos_embed[:, num_extra_tokens:].reshape(1, *src_shape, -1)
    grid = F.interpolate(
        grid.permute(0, 4, 1, 2, 3).float(),
        size=dst_shape,
        mode='trilinear',
        align_corners=False).to(pos_embed.dtype)
    grid = grid.flatten(2).transpose(1, 2)
    return torch.cat((extra, grid), dim=1)


def image_to_video_pos_embed(pos_embed: torch.Tensor,
                             src_grid: Sequence[int],
                             dst_grid: Sequence[int],
                             num_frames: int,
                             num_extra_tokens: int = 1) -> torch.Tensor:
    """Space-time position table from an image ViT's table.

    The spatial table is resized (bicubic, as mmpretrain does) to the video's
    patch grid and repeated for every frame, so that every frame starts from
    the image model's geometry; the time order is then learned in training.

    Args:
        pos_embed (Tensor): Image table (1, E + H*W, C).
        src_grid (Sequence[int]): (H, W) grid of ``pos_embed``.
        dst_grid (Sequence[int]): (H', W') patch grid of each frame.
        num_frames (int): Number of frames T.
        num_extra_tokens (int): Number E of leading extra tokens (CLS).
            Defaults to 1.

    Returns:
        Tensor: Table (1, E + T*H'*W', C).
    """
    expected = num_extra_tokens + src_grid[0] * src_grid[1]
    if pos_embed.dim() != 3 or pos_embed.shape[1] != expected:
        raise ValueError(
            f'An image position table of shape {tuple(pos_embed.shape)} does '
            f'not fit {num_extra_tokens} extra tokens + a {tuple(src_grid)} '
            'grid.')
    table = resize_pos_embed(pos_embed, tuple(src_grid), tuple(dst_grid),
                             'bicubic', num_extra_tokens)
    extra = table[:, :num_extra_tokens]
    patches = table[:, num_extra_tokens:].repeat(1, num_frames, 1)
    return torch.cat((extra, patches), dim=1)
