"""Prepare CREMA-D: VideoFlash/AudioWAV -> 1-fps frames, wavs, spectrograms.

Clips come from split lists (``--split train=train.csv --split
test=test.csv``) of CREMA-D clip ids, one per line, optionally with
``,EMOTION`` as in OGM-GE's ``train.csv`` / ``test.csv``; without
``--split`` every ``<id>.flv`` of ``--video-dir`` forms the split ``all``
(its ids are written to ``<out-dir>/all_clip_ids.txt``).
The label is the emotion code of the id (NEU HAP SAD FEA DIS ANG -> 0-5).

Frames come from ``--video-dir/<id>.flv``; audio from
``--audio-dir/<id>.wav`` (copied as is) when given, else from the flv's
audio track (written as a wav at its own rate).

Outputs under ``--out-dir`` (see docs/data_preparation.md): ``frames/``,
``audio/``, with ``--features`` also ``features/<id>.npy`` (by default
the recipe's log-STFT: 22,050 Hz, tiled and cut to 3 s, 188 x 257;
``--features RECIPE`` chooses another), ``<split>.txt`` /
``<split>_features.txt`` and ``failed_clips.tsv``. Re-running skips the
complete outputs. ``--val-fraction 0.1`` carves a fixed, per-class
validation split ``val`` out of ``train`` (the published split has none).

The published split (OGM-GE's csv) has all 91 actors in both train and
test. ``--actor-disjoint-test-fraction 0.2`` also writes a split with no
actor in two splits, from all the listed clips together:
``train_actor_disjoint``, ``test_actor_disjoint`` (20 % of the actors) and,
with ``--val-fraction``, ``val_actor_disjoint`` (that share of the other
actors); ``--actor-disjoint-seed`` picks the actors and
``--actor-disjoint-only`` skips the standard split files.

Example::

    python tools/data/cremad/prepare_cremad.py \\
        --video-dir data/CREMA-D/VideoFlash \\
        --audio-dir data/CREMA-D/AudioWAV \\
        --split train=train.csv --split test=test.csv \\
        --out-dir data/cremad --features --workers 8
"""
import argparse
import os
import os.path as osp
from typing import Dict, List

from mmengine.logging import print_log

from rollingq_mm.datasets.preparation import (CREMAD_RECIPE, SplitClip,
                                              actor_disjoint_split,
                                              add_extraction_arguments,
                                              add_validation_arguments,
                                              add_validation_split,
                                              cremad_actor, parse_split_args,
                                              read_annotation,
                                              run_preparation)

#: Appended to the split names of the actor-disjoint split.
ACTOR_DISJOINT_SUFFIX = '_actor_disjoint'


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--video-dir', required=True,
                        help='folder with <clip_id>.flv (VideoFlash)')
    parser.add_argument('--audio-dir', default=None,
                        help='folder with <clip_id>.wav (AudioWAV); default: '
                        "the flv's audio track")
    parser.add_argument('--split', action='append', default=[],
                        metavar='NAME=FILE',
                        help='a list of clip ids; repeat for several splits')
    parser.add_argument('--video-ext', default='.flv')
    add_extraction_arguments(parser, CREMAD_RECIPE)
    add_validation_arguments(parser)
    parser.add_argument('--actor-disjoint-test-fraction', type=float,
                        default=0.0,
                        help='also write an actor-disjoint split with this '
                        'share of the actors in test_actor_disjoint (0: '
                        'none); --val-fraction then also carves '
                        'val_actor_disjoint from its other actors')
    parser.add_argument('--actor-disjoint-seed', type=int, default=0,
                        help='seed of the actor-disjoint choice')
    parser.add_argument('--actor-disjoint-only', action='store_true',
                        help='write only the actor-disjoint split files')
    return parser


def collect_splits(args: argparse.Namespace) -> Dict[str, List[SplitClip]]:
    """Split name to clips, from the lists or from the video folder."""
    if args.split:
        lists = parse_split_args(args.split)
    else:
        if not osp.isdir(args.video_dir):
            raise FileNotFoundError(f'video folder not found: '
                                    f'{args.video_dir}')
        ids = sorted(osp.splitext(name)[0]
                     for name in os.listdir(args.video_dir)
                     if name.endswith(args.video_ext))
        if not ids:
            raise FileNotFoundError(
                f'no *{args.video_ext} file in {args.video_dir}')
        listing = osp.join(args.out_dir, 'all_clip_ids.txt')
        os.makedirs(args.out_dir, exist_ok=True)
        with open(listing, 'w', encoding='utf-8') as handle:
            handle.writelines(clip_id + '\n' for clip_id in ids)
        lists = {'all': listing}
    audio_template = None if args.audio_dir is None \
        else osp.join(args.audio_dir, '{}.wav')
    return {
        name: [SplitClip(r.clip_id, r.visual, r.audio, r.label)
               for r in read_annotation(
                   path, 'cremad',
                   visual_template=osp.join(args.video_dir,
                                            '{}' + args.video_ext),
                   audio_template=audio_template)]
        for name, path in lists.items()
    }


def choose_splits(args: argparse.Namespace,
                  splits: Dict[str, List[SplitClip]]
                  ) -> Dict[str, List[SplitClip]]:
    """The standard splits and/or the actor-disjoint ones, to be written."""
    chosen = {}
    if not args.actor_disjoint_only:
        chosen.update(add_validation_split(
            splits, args.val_source, args.val_fraction, args.val_seed)
            if args.val_fraction else splits)
    if args.actor_disjoint_test_fraction:
        disjoint = actor_disjoint_split(
            [clip for clips in splits.values() for clip in clips],
            args.actor_disjoint_test_fraction, args.val_fraction,
            args.actor_disjoint_seed)
        for name, clips in disjoint.items():
            chosen[name + ACTOR_DISJOINT_SUFFIX] = clips
            actors = len({cremad_actor(clip) for clip in clips})
            print_log(f'{name}{ACTOR_DISJOINT_SUFFIX}: {len(clips)} clips of '
                      f'{actors} actors', logger='current')
    return chosen


def main() -> None:
    """Extract every split and write its annotation files."""
    parser = build_parser()
    args = parser.parse_args()
    if args.actor_disjoint_only and not args.actor_disjoint_test_fraction:
        parser.error('--actor-disjoint-only needs '
                     '--actor-disjoint-test-fraction')
    run_preparation(parser, args, choose_splits(args, collect_splits(args)))


if __name__ == '__main__':
    main()
