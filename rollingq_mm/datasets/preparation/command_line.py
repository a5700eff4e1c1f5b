"""Command-line parts shared by the preparation tools of ``tools/data``.

The options every tool has (output folder, frame rate, features, workers,
validation carve-out), the ``--classes`` argument, and the run itself, so
that an error at the command line names the tool's flag, not a config key.
"""
import argparse
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.logging import print_log

from ..class_names import (BUILTIN_CLASS_LISTS, build_class_lookup,
                           read_class_list, resolve_classes)
from ..errors import AnnotationError
from .feature_recipes import FEATURE_KINDS, parse_feature_recipe
from .split_files import (ExtractionError, SplitClip, add_validation_split,
                          check_feature_recipe, prepare_splits)

#: The class list a tool writes (or checks) next to the split files.
CLASSES_FILE = 'classes.txt'
_INTEGER = re.compile(r'^[+-]?\d+$')


def add_extraction_arguments(parser: argparse.ArgumentParser,
                             default_recipe: str) -> None:
    """Add ``--out-dir``, ``--features``, ``--fps`` and the other options.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        default_recipe (str): The recipe of a bare ``--features``.
    """
    parser.add_argument('--out-dir', required=True, help='output root')
    parser.add_argument(
        '--features', nargs='?', const=default_recipe, default=None,
        metavar='RECIPE',
        help='also write audio features, features/<id>.npy; RECIPE is '
        f'{" or ".join(FEATURE_KINDS)}, optionally with options, e.g. '
        f'fbank:num_mel_bins=64 (default: {default_recipe}; see '
        'docs/data_preparation.md)')
    parser.add_argument('--fps', type=float, default=1.0,
                        help='frames kept per second')
    parser.add_argument('--short-side', type=int, default=None,
                        help='resize frames to this short side')
    parser.add_argument('--jpeg-quality', type=int, default=95)
    parser.add_argument('--workers', type=int, default=os.cpu_count() or 1)


def add_validation_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--val-fraction``, ``--val-source`` and ``--val-seed``."""
    parser.add_argument('--val-fraction', type=float, default=0.0,
                        help='carve this share of each class of '
                        '--val-source out as the split "val" (0: none)')
    parser.add_argument('--val-source', default='train',
                        help='the split the validation clips come from')
    parser.add_argument('--val-seed', type=int, default=0)


def carve_validation(parser: argparse.ArgumentParser,
                     args: argparse.Namespace,
                     splits: Dict[str, List[SplitClip]]
                     ) -> Dict[str, List[SplitClip]]:
    """Apply ``--val-fraction`` (if set) to the splits."""
    if not args.val_fraction:
        return splits
    try:
        return add_validation_split(splits, args.val_source,
                                    args.val_fraction, args.val_seed)
    except ValueError as err:
        parser.error(f'--val-fraction / --val-source: {err}')


def classes_argument(parser: argparse.ArgumentParser, value: str,
                     flag: str = '--classes') -> Tuple[str, ...]:
    """Resolve a ``--classes`` value: a list file, a shipped list name, or
    comma-separated names (``dog,cat,bird``).

    Args:
        parser (argparse.ArgumentParser): Reports a bad value, naming
            ``flag``, and exits.
        value (str): The value given.
        flag (str): The flag, for messages. Defaults to ``'--classes'``.

    Returns:
        tuple[str]: The class names in id order.
    """
    try:
        if osp.isfile(value) or value in BUILTIN_CLASS_LISTS:
            return resolve_classes(value)
        names = [name.strip() for name in value.split(',')]
        if len(names) < 2 or not all(names):
            parser.error(
                f'{flag} {value!r} is neither a class list file, a shipped '
                f'list ({", ".join(BUILTIN_CLASS_LISTS)}) nor two or more '
                'comma-separated names')
        return resolve_classes(names)
    except (AnnotationError, FileNotFoundError) as err:
        parser.error(f'{flag}: {err}')


def classes_for_labels(parser: argparse.ArgumentParser,
                       labels: Sequence[Tuple[str, str]],
                       value: Optional[str] = None,
                       flag: str = '--classes'
                       ) -> Optional[Tuple[str, ...]]:
    """The class list for the label fields of some lists.

    With ``value`` (the ``flag``'s argument) every name label must be one of
    its classes and every integer label below their number. Without it,
    integer labels are used as they are (returns None) and name labels are
    numbered in sorted order; a mix of both is refused, naming ``flag``.

    Args:
        parser (argparse.ArgumentParser): Reports a bad label and exits.
        labels (Sequence[tuple[str, str]]): ``(file:line, label field)``.
        value (str, optional): The ``flag``'s value, see
            :func:`classes_argument`. Defaults to None.
        flag (str): The flag, for messages. Defaults to ``'--classes'``.

    Returns:
        tuple[str] | None: The class names in id order, or None for integer
        labels without a class list.
    """
    names = [(where, token) for where, token in labels
             if not _INTEGER.match(token)]
    numbers = [(where, int(token)) for where, token in labels
               if _INTEGER.match(token)]
    if value is None:
        if names and numbers:
            parser.error(
                f'{names[0][0]}: label {names[0][1]!r} is a class name but '
                f'{numbers[0][0]} has the integer label {numbers[0][1]}: '
                f'give the class list with {flag} FILE or {flag} a,b,c (its '
                'order gives the ids), or use one kind of label')
        return tuple(sorted({token for _, token in names})) or None
    classes = classes_argument(parser, value, flag)
    lookup = build_class_lookup(classes)
    for where, token in names:
        if token not in lookup:
            parser.error(f'{where}: label {token!r} is not one of the '
                         f'{len(classes)} classes of {flag} {value}')
    for where, number in numbers:
        if not 0 <= number < len(classes):
            parser.error(f'{where}: label {number} is out of range for the '
                         f'{len(classes)} classes of {flag} {value}')
    return classes


def write_classes_file(parser: argparse.ArgumentParser, out_dir: str,
                       classes: Sequence[str],
                       flag: str = '--classes') -> str:
    """Write ``<out_dir>/classes.txt``, or check an existing one agrees.

    A re-run whose classes differ from the file's (other ids for the same
    names) is refused, naming ``flag``.

    Args:
        parser (argparse.ArgumentParser): Reports a mismatch and exits.
        out_dir (str): The output root.
        classes (Sequence[str]): The class names in id order.
        flag (str): The flag, for messages. Defaults to ``'--classes'``.

    Returns:
        str: The class list file.
    """
    path = osp.join(out_dir, CLASSES_FILE)
    if osp.isfile(path):
        previous = read_class_list(path)
        if previous != tuple(classes):
            parser.error(
                f'{path} lists the classes {list(previous)}, this run has '
                f'{list(classes)}: the label ids would change. Pass '
                f'{flag} {path} to keep them, or write to another --out-dir')
        return path
    os.makedirs(out_dir, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.writelines(name + '\n' for name in classes)
    print_log(f'wrote the {len(classes)} class names to {path} (use '
              f"metainfo=dict(classes='{path}') in the config)",
              logger='current')
    return path


def run_preparation(parser: argparse.ArgumentParser,
                    args: argparse.Namespace,
                    splits: Dict[str, List[SplitClip]]
                    ) -> Dict[str, List[str]]:
    """Extract the splits with the options of :func:`add_extraction_arguments`.

    A bad ``--features`` recipe stops with a usage error (exit status 2);
    a run that writes no usable split file (:class:`ExtractionError`) exits
    with status 1 and the first failure, naming ``--features`` when the
    features failed.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        args (argparse.Namespace): Its parsed arguments.
        splits (dict[str, list[SplitClip]]): Split name to its clips.

    Returns:
        dict[str, list[str]]: Split name to the annotation files written.
    """
    pipeline = None
    if args.features is not None:
        try:
            pipeline = parse_feature_recipe(args.features)
            check_feature_recipe(args.out_dir, pipeline)
        except ValueError as err:
            parser.error(f'--features: {err}')
    try:
        written = prepare_splits(
            splits, args.out_dir, args.workers, feature_pipeline=pipeline,
            fps=args.fps, short_side=args.short_side,
            jpeg_quality=args.jpeg_quality)
    except ExtractionError as err:
        hint = ''
        if err.stage == 'features':
            hint = (f' The audio features (--features {args.features}) '
                    'failed: choose a recipe that fits the audio, e.g. '
                    '--features fbank:num_mel_bins=64 for 16 kHz audio.')
        parser.exit(1, f'{parser.prog}: error: {err}{hint}\n')
    except ValueError as err:
        parser.error(str(err))
    for split, files in written.items():
        print_log(f'{split}: wrote {", ".join(files)}', logger='current')
    return written
