"""Prepare Kinetics-Sounds: raw clips -> 1-fps frames, wavs, fbank, splits.

Two ways to say which clips belong to which split and class:

1. Split lists (``--split train=my_train.txt --split test=my_test.txt``) in
   OGM-GE's ``CLIP_ID,SECONDS,LABEL`` format (``--split-format ogm_ge_ks``,
   the default) or ``CLIP_ID ... LABEL`` (``space_list``); the videos are
   found anywhere under ``--video-root`` by their file stem (the clip id).
2. No ``--split``: class folders, ``<video-root>/<split>/<class>/<clip>.*``
   as the Kinetics downloaders write them; class folders are matched to the
   31 Kinetics-Sounds classes (spaces or underscores), other classes are
   ignored.

Outputs under ``--out-dir`` (see docs/data_preparation.md): ``frames/``,
``audio/`` (wav at the source rate), with ``--features`` also
``features/<id>.npy`` (the recipe's normalised 1024 x 128 fbank),
``<split>.txt`` / ``<split>_features.txt`` (generic annotations) and
``failed_clips.tsv``. Re-running skips the complete outputs.
``--val-fraction 0.1`` carves a fixed, per-class validation split ``val``
out of ``train`` (Kinetics-Sounds has none; checkpoints must not be picked
on the test split).

Example::

    python tools/data/kinetics_sounds/prepare_kinetics_sounds.py \\
        --video-root data/kinetics400 --out-dir data/kinetics_sounds \\
        --features --workers 8
"""
import argparse
import os
import os.path as osp
from collections import Counter
from typing import Dict, List, Tuple

from mmengine.logging import print_log

from rollingq_mm.datasets import resolve_classes
from rollingq_mm.datasets.class_names import build_class_lookup
from rollingq_mm.datasets.preparation import (VIDEO_EXTENSIONS, SplitClip,
                                              add_validation_split,
                                              index_videos, parse_split_args,
                                              prepare_splits, read_annotation)

FBANK_PIPELINE = [dict(type='LoadAudio', sample_rate=None),
                  dict(type='KaldiFbank')]


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--video-root', required=True,
                        help='folder with the raw Kinetics clips')
    parser.add_argument('--out-dir', required=True, help='output root')
    parser.add_argument('--split', action='append', default=[],
                        metavar='NAME=FILE',
                        help='a split list; repeat for several splits')
    parser.add_argument('--split-format', default='ogm_ge_ks',
                        choices=['ogm_ge_ks', 'space_list'])
    parser.add_argument('--classes', default='kinetics_sounds_31',
                        help='class list file or shipped list name')
    parser.add_argument('--features', action='store_true',
                        help='also write the fbank .npy features')
    parser.add_argument('--fps', type=float, default=1.0)
    parser.add_argument('--short-side', type=int, default=None,
                        help='resize frames to this short side')
    parser.add_argument('--jpeg-quality', type=int, default=95)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)
    parser.add_argument('--val-fraction', type=float, default=0.0,
                        help='carve this share of each class of '
                        '--val-source out as the split "val" (0: none)')
    parser.add_argument('--val-source', default='train',
                        help='the split the validation clips come from')
    parser.add_argument('--val-seed', type=int, default=0)
    return parser.parse_args()


def clips_from_lists(args: argparse.Namespace, classes: Tuple[str, ...]
                     ) -> Dict[str, List[SplitClip]]:
    """Split name to clips, from the split lists."""
    videos = index_videos(args.video_root)
    splits = {}
    for name, path in parse_split_args(args.split).items():
        records = read_annotation(path, args.split_format, classes)
        splits[name] = [
            SplitClip(r.clip_id,
                      videos.get(r.clip_id,
                                 osp.join(args.video_root, r.clip_id)),
                      None, r.label) for r in records
        ]
    return splits


def clips_from_folders(args: argparse.Namespace, classes: Tuple[str, ...]
                       ) -> Dict[str, List[SplitClip]]:
    """Split name to clips, from <split>/<class>/<clip> folders."""
    lookup = build_class_lookup(classes)
    splits = {}
    ignored = Counter()
    for split in sorted(os.listdir(args.video_root)):
        split_dir = osp.join(args.video_root, split)
        if not osp.isdir(split_dir):
            continue
        clips = []
        for class_dir in sorted(os.listdir(split_dir)):
            if class_dir not in lookup:
                ignored[class_dir] += 1
                continue
            folder = osp.join(split_dir, class_dir)
            for name in sorted(os.listdir(folder)):
                stem, suffix = osp.splitext(name)
                if suffix.lower() in VIDEO_EXTENSIONS:
                    clips.append(SplitClip(stem, osp.join(folder, name),
                                           None, lookup[class_dir]))
        if clips:
            splits[split] = clips
    if ignored:
        print_log(f'ignored {len(ignored)} class folders that are not '
                  'Kinetics-Sounds classes', logger='current')
    if not splits:
        raise FileNotFoundError(
            f'no <split>/<class>/<clip> video of the {len(classes)} classes '
            f'under {args.video_root}')
    return splits


def main() -> None:
    """Extract every split and write its annotation files."""
    args = parse_args()
    classes = resolve_classes(args.classes)
    splits = clips_from_lists(args, classes) if args.split \
        else clips_from_folders(args, classes)
    if args.val_fraction:
        splits = add_validation_split(splits, args.val_source,
                                      args.val_fraction, args.val_seed)
    written = prepare_splits(
        splits, args.out_dir, args.workers,
        feature_pipeline=FBANK_PIPELINE if args.features else None,
        fps=args.fps, short_side=args.short_side,
        jpeg_quality=args.jpeg_quality)
    for split, files in written.items():
        print_log(f'{split}: wrote {", ".join(files)}', logger='current')


if __name__ == '__main__':
    main()
