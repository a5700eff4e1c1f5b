"""Convert an ImageNet ViT-B/16 checkpoint into RollingQ's two towers.

Reads a ViT checkpoint in mmpretrain or timm key names (``.pth`` / ``.bin``;
loaded weights-only), keeps its first ``--num-layers`` transformer layers,
and writes one file holding both towers (keys ``audio.*`` and ``visual.*``):
the audio stem is made single-channel (RGB kernels summed,
``--channel-reduce``), the position table is interpolated (bicubic) to the
spectrogram's patch grid for audio and to the frame grid, repeated over
``--num-frames`` frames, for video. The checkpoints that fit the paper's
ImageNet-21k initialisation are listed in docs/pretrained_weights.md.

The audio grid must be the one the audio tower builds: ``--audio-size`` is
its input (height, width) and ``--audio-padding`` its stem's padding. The
paper configs patch without padding (``patch_cfg=dict(padding=0)``), so a
size that is not a multiple of the patch loses its remainder.

Kinetics-Sounds towers (fbank fed frequency-major: 128 mel bins x 1024
frames, an 8 x 64 grid; 3 frames of 224 x 224)::

    python tools/model_converters/vit_to_rollingq.py \
        vit-b16-in21k.pth \
        work_dirs/pretrained/vit-b16-in21k_4l_ks-128x1024.pth \
        --audio-size 128 1024

CREMA-D towers (188 frames x 257 bins log-STFT, an 11 x 16 grid)::

    python tools/model_converters/vit_to_rollingq.py \
        vit-b16-in21k.pth \
        work_dirs/pretrained/vit-b16-in21k_4l_cremad-188x257.pth \
        --audio-size 188 257

then, in the config, on each tower::

    init_cfg=dict(type='Pretrained', checkpoint='work_dirs/pretrained/...',
                  prefix='audio.')   # or prefix='visual.'
"""
import argparse
import os
import os.path as osp
from typing import Sequence, Tuple

import torch
from mmengine.logging import print_log

from rollingq_mm.compat import safe_torch_load
from rollingq_mm.models.utils.vit_convert import convert_vit_to_towers


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src',
                        help='ViT checkpoint (mmpretrain or timm names)')
    parser.add_argument('dst', help='output file for both towers')
    parser.add_argument('--num-layers', type=int, default=4,
                        help='transformer layers kept (default: 4)')
    parser.add_argument('--patch-size', type=int, default=16,
                        help='patch size of the towers (default: 16)')
    parser.add_argument(
        '--audio-size', type=int, nargs=2, default=(128, 1024),
        metavar=('H', 'W'),
        help='audio tower input (height, width): 128 1024 for '
        'Kinetics-Sounds (mel bins x frames, the default), 188 257 for '
        'CREMA-D (frames x frequency bins)')
    parser.add_argument(
        '--audio-padding', choices=('none', 'corner'), default='none',
        help="the audio stem's padding: 'none' drops what does not fill a "
        "patch (patch_cfg=dict(padding=0), the paper configs; default), "
        "'corner' pads it (mmpretrain's default PatchEmbed)")
    parser.add_argument('--frame-size', type=int, nargs=2, default=(224, 224),
                        metavar=('H', 'W'), help='video frame size')
    parser.add_argument('--num-frames', type=int, default=3,
                        help='frames per clip (default: 3)')
    parser.add_argument('--channel-reduce', choices=('sum', 'mean'),
                        default='sum',
                        help='RGB -> 1-channel audio stem (default: sum)')
    parser.add_argument('--drop-final-norm', action='store_true',
                        help='do not copy the final LayerNorm')
    return parser.parse_args()


def patch_grid(size: Sequence[int], patch_size: int,
               padding: str) -> Tuple[int, ...]:
    """Patch grid of an input, as mmcv's ``PatchEmbed`` builds it.

    Args:
        size (Sequence[int]): Input (height, width).
        patch_size (int): Patch side (the stride).
        padding (str): ``'none'`` (``padding=0``: floor division) or
            ``'corner'`` (adaptive padding: ceil division).

    Returns:
        tuple[int]: (H', W').
    """
    if padding == 'corner':
        grid = tuple(-(-s // patch_size) for s in size)
    else:
        grid = tuple(s // patch_size for s in size)
    if min(grid) < 1:
        raise ValueError(f'An input of {tuple(size)} holds no '
                         f'{patch_size} x {patch_size} patch.')
    return grid


def main() -> None:
    """Convert and save."""
    args = parse_args()
    checkpoint = safe_torch_load(args.src, map_location='cpu')
    converted = convert_vit_to_towers(
        checkpoint,
        num_layers=args.num_layers,
        audio_patch_grid=patch_grid(args.audio_size, args.patch_size,
                                    args.audio_padding),
        video_patch_grid=patch_grid(args.frame_size, args.patch_size,
                                    'corner'),
        num_frames=args.num_frames,
        channel_reduce=args.channel_reduce,
        keep_final_norm=not args.drop_final_norm)
    meta = converted['meta']
    meta['source_file'] = osp.basename(args.src)
    meta['audio_size'] = list(args.audio_size)
    meta['audio_padding'] = args.audio_padding
    if osp.dirname(args.dst):
        os.makedirs(osp.dirname(args.dst), exist_ok=True)
    torch.save(converted, args.dst)
    print_log(
        f'{args.src} ({meta["source_layout"]} names, '
        f'{meta["source_layers"]} layers) -> {args.dst}: audio grid '
        f'{meta["audio_patch_grid"]}, video {meta["num_frames"]} x '
        f'{meta["video_patch_grid"]}, {meta["num_layers"]} layers; ignored '
        f'{len(meta["ignored_keys"])} classifier keys.',
        logger='current')


if __name__ == '__main__':
    main()
