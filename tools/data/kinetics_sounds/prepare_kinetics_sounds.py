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
``features/<id>.npy`` (by default the recipe's normalised 1024 x 128
fbank; ``--features RECIPE`` chooses another, e.g.
``fbank:num_mel_bins=64``),
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
from typing import Dict, List, Tuple

from mmengine.logging import print_log

from rollingq_mm.datasets.class_names import build_class_lookup
from rollingq_mm.datasets.preparation import (KINETICS_SOUNDS_RECIPE,
                                              SplitClip,
                                              add_extraction_arguments,
                                              add_validation_arguments,
                                              carve_validation,
                                              class_folder_clips,
                                              classes_argument, index_videos,
                                              parse_split_args,
                                              read_annotation,
                                              run_preparation)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--video-root', required=True,
                        help='folder with the raw Kinetics clips')
    parser.add_argument('--split', action='append', default=[],
                        metavar='NAME=FILE',
                        help='a split list; repeat for several splits')
    parser.add_argument('--split-format', default='ogm_ge_ks',
                        choices=['ogm_ge_ks', 'space_list'])
    parser.add_argument('--classes', default='kinetics_sounds_31',
                        help='class list file, shipped list name or '
                        'comma-separated names')
    add_extraction_arguments(parser, KINETICS_SOUNDS_RECIPE)
    add_validation_arguments(parser)
    return parser


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
    ignored = set()
    for split in sorted(os.listdir(args.video_root)):
        split_dir = osp.join(args.video_root, split)
        if not osp.isdir(split_dir):
            continue
        clips, skipped = class_folder_clips(split_dir, lookup)
        ignored.update(skipped)
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
    parser = build_parser()
    args = parser.parse_args()
    classes = classes_argument(parser, args.classes)
    splits = clips_from_lists(args, classes) if args.split \
        else clips_from_folders(args, classes)
    run_preparation(parser, args, carve_validation(parser, args, splits))


if __name__ == '__main__':
    main()
