"""Convert an ImageNet ViT-B/16 checkpoint into RollingQ's two towers.

Reads a ViT checkpoint in mmpretrain or timm key names (``.pth``; loaded
weights-only), keeps its first ``--num-layers`` transformer layers, and writes
one file holding both towers (keys ``audio.*`` and ``visual.*``): the audio
stem is made single-channel (RGB kernels summed, ``--channel-reduce``), the
position table is interpolated to the spectrogram's patch grid for audio and
to the frame grid, repeated over ``--num-frames`` frames, for video.

Example (CREMA-D towers: 188x257 log-STFT, 3 frames of 224x224)::

    python tools/model_converters/vit_to_rollingq.py \
        vit-base-p16_in21k.pth work_dirs/pretrained/vit-b16_4l_cremad.pth \
        --audio-size 188 257

then, in the config, on each tower::

    init_cfg=dict(type='Pretrained', checkpoint='work_dirs/pretrained/...',
                  prefix='audio.')   # or prefix='visual.'
"""
import argparse
import math
import os
import os.path as osp

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
        '--audio-size', type=int, nargs=2, default=(188, 257),
        metavar=('T', 'F'),
        help='audio input (time frames, frequency bins): 188 257 for '
        'CREMA-D (default), 1024 128 for Kinetics-Sounds')
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


def patch_grid(size, patch_size: int) -> tuple:
    """Patch grid of an input with mmcv's corner padding (ceil division)."""
    return tuple(math.ceil(s / patch_size) for s in size)


def main() -> None:
    """Convert and save."""
    args = parse_args()
    checkpoint = safe_torch_load(args.src, map_location='cpu')
    converted = convert_vit_to_towers(
        checkpoint,
        num_layers=args.num_layers,
        audio_patch_grid=patch_grid(args.audio_size, args.patch_size),
        video_patch_grid=patch_grid(args.frame_size, args.patch_size),
        num_frames=args.num_frames,
        channel_reduce=args.channel_reduce,
        keep_final_norm=not args.drop_final_norm)
    meta = converted['meta']
    meta['source_file'] = osp.basename(args.src)
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
