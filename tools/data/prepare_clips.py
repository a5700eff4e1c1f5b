"""Prepare your own clips: videos -> frames, wavs, features, split files.

The clips come from one of:

1. Generic lists (``--split train=train.txt --split test=test.txt``), one
   clip per line, ``VISUAL AUDIO LABEL`` (the ``generic`` annotation
   format): ``VISUAL`` a video file, ``AUDIO`` a separate audio file or
   ``-`` for the video's own track, ``LABEL`` an integer id or a class name.
   Relative paths are relative to ``--data-root`` (default: the list's
   folder). The clip id, which names the outputs, is the video's file stem.
2. A folder per class (``--class-folders ROOT``):
   ``ROOT/<class>/<clip>.<ext>`` form the split ``train``; the clip ids are
   ``<class>/<stem>``, whitespace turned into ``_``.

Classes: ``--classes`` takes a list file, a shipped list name or
comma-separated names (``dog,cat,bird``; the order gives the ids). Without
it, class folders are numbered in sorted order, as are class-name labels;
integer labels are used as they are. The names are written to
``<out-dir>/classes.txt`` for ``metainfo=dict(classes=...)``.

``--test-fraction`` and then ``--val-fraction`` carve fixed, per-class
``test`` and ``val`` splits out of ``--val-source`` (``train``).

Outputs under ``--out-dir``, as the dataset tools write them (see
docs/data_preparation.md): ``frames/<id>/`` (``--fps`` frames per second),
``audio/<id>.wav`` (source rate), with ``--features [RECIPE]`` also
``features/<id>.npy`` (default: the Kinetics-Sounds 128-bin fbank; for
16 kHz audio e.g. ``--features fbank:num_mel_bins=64``),
``<split>.txt`` / ``<split>_features.txt`` and ``failed_clips.tsv``.
Re-running skips the complete outputs. A run in which every clip (or every
clip of a split) failed exits with status 1 and the first error.

Example::

    python tools/data/prepare_clips.py --class-folders data/my_clips \\
        --out-dir data/my_prepared --fps 1 \\
        --features fbank:num_mel_bins=64 \\
        --test-fraction 0.2 --val-fraction 0.1 --workers 8
"""
import argparse
import os.path as osp
from typing import Dict, List, Optional, Tuple

from rollingq_mm.datasets import AnnotationError
from rollingq_mm.datasets.annotation_formats import (iter_annotation_lines,
                                                     visual_kind)
from rollingq_mm.datasets.class_names import build_class_lookup
from rollingq_mm.datasets.preparation import (KINETICS_SOUNDS_RECIPE,
                                              SplitClip,
                                              add_extraction_arguments,
                                              add_validation_arguments,
                                              add_validation_split,
                                              carve_validation,
                                              class_folder_clips,
                                              class_folders,
                                              classes_argument,
                                              classes_for_labels,
                                              parse_split_args,
                                              read_annotation,
                                              run_preparation,
                                              write_classes_file)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--split', action='append', default=[],
                        metavar='NAME=LIST',
                        help='a generic list "VISUAL AUDIO LABEL"; repeat '
                        'for several splits')
    source.add_argument('--class-folders', metavar='ROOT',
                        help='ROOT/<class>/<clip>.<ext>: the split "train"')
    parser.add_argument('--data-root', default=None,
                        help='relative paths of the lists start here '
                        "(default: the list's folder)")
    parser.add_argument('--classes', default=None,
                        help='class list file, shipped list name or '
                        'comma-separated names (default: the sorted class '
                        'folders or class-name labels)')
    add_extraction_arguments(parser, KINETICS_SOUNDS_RECIPE)
    parser.add_argument('--test-fraction', type=float, default=0.0,
                        help='carve this share of each class of '
                        '--val-source out as the split "test" (0: none)')
    add_validation_arguments(parser)
    return parser


def clips_from_lists(parser: argparse.ArgumentParser,
                     args: argparse.Namespace
                     ) -> Tuple[Dict[str, List[SplitClip]],
                                Optional[Tuple[str, ...]]]:
    """Split name to clips, and the class names, from generic lists."""
    try:
        lists = parse_split_args(args.split)
    except ValueError as err:
        parser.error(str(err))
    for path in lists.values():
        if not osp.isfile(path):
            parser.error(f'--split: list file not found: {path}')
    labels = [(f'{path}:{line_no}', text.split()[-1])
              for path in lists.values()
              for line_no, text in iter_annotation_lines(path)]
    classes = classes_for_labels(parser, labels, args.classes)
    splits = {}
    for name, path in lists.items():
        root = args.data_root or osp.dirname(osp.abspath(path))
        try:
            records = read_annotation(path, 'generic', classes)
        except AnnotationError as err:
            parser.error(str(err))
        for record in records:
            if visual_kind(record.visual) != 'filename':
                parser.error(f'{path}: VISUAL {record.visual} of clip '
                             f'{record.clip_id} is not a video file')
        splits[name] = [
            SplitClip(r.clip_id, osp.join(root, r.visual),
                      None if r.audio is None else osp.join(root, r.audio),
                      r.label) for r in records
        ]
    return splits, classes


def clips_from_class_folders(parser: argparse.ArgumentParser,
                             args: argparse.Namespace
                             ) -> Tuple[Dict[str, List[SplitClip]],
                                        Tuple[str, ...]]:
    """The split ``train`` and the class names, from class folders."""
    root = args.class_folders
    if not osp.isdir(root):
        parser.error(f'--class-folders: folder not found: {root}')
    if args.classes is None:
        classes = tuple(class_folders(root))
    else:
        classes = classes_argument(parser, args.classes)
    clips, ignored = class_folder_clips(root, build_class_lookup(classes),
                                        nested_ids=True)
    if ignored:
        parser.error(f'--class-folders: the folders {ignored} of {root} are '
                     f'not classes of --classes {args.classes}')
    if not clips:
        parser.error(f'--class-folders: no <class>/<clip> video under {root}')
    return {'train': clips}, classes


def main() -> None:
    """Extract every split and write its annotation files."""
    parser = build_parser()
    args = parser.parse_args()
    if args.class_folders is not None:
        splits, classes = clips_from_class_folders(parser, args)
    else:
        splits, classes = clips_from_lists(parser, args)
    if classes is not None:
        write_classes_file(parser, args.out_dir, classes)
    if args.test_fraction:
        try:
            splits = add_validation_split(splits, args.val_source,
                                          args.test_fraction, args.val_seed,
                                          name='test')
        except ValueError as err:
            parser.error(f'--test-fraction: {err}')
    run_preparation(parser, args, carve_validation(parser, args, splits))


if __name__ == '__main__':
    main()
