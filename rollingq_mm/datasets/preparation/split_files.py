"""Split arguments of the preparation tools and their output annotations."""
import json
import os
import os.path as osp
import re
from collections import defaultdict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..annotation_formats import AnnotationRecord
from .annotation_conversion import write_annotation
from .clip_extraction import ClipResult, ClipTask
from .extraction_runner import run_extraction

VIDEO_EXTENSIONS = frozenset(
    {'.mp4', '.mkv', '.webm', '.avi', '.flv', '.mov', '.mpg', '.mpeg',
     '.m4v'})
#: The feature recipe of ``features/``, next to the ``.npy`` files.
FEATURE_RECIPE_FILE = 'recipe.json'
_CREMAD_ACTOR = re.compile(r'^(\d+)_')


class ExtractionError(RuntimeError):
    """A preparation run that would write no usable split file.

    Args:
        message (str): What went wrong, with the first failure's reason.
        stage (str): The stage of that failure (``'frames'``, ``'audio'``,
            ``'features'``) or ``''``. Defaults to ``''``.
    """

    def __init__(self, message: str, stage: str = '') -> None:
        super().__init__(message)
        self.stage = stage


class SplitClip(NamedTuple):
    """A clip of a split: id, video file, separate audio file, label."""

    clip_id: str
    video: str
    audio: Optional[str]
    label: int


def parse_split_args(items: Sequence[str]) -> Dict[str, str]:
    """Parse ``NAME=FILE`` command-line items.

    Args:
        items (Sequence[str]): E.g. ``['train=my_train.txt']``.

    Returns:
        dict[str, str]: Split name to list file, in the given order.
    """
    splits = {}
    for item in items:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise ValueError(f'--split expects NAME=FILE, got {item!r}')
        if name in splits:
            raise ValueError(f'split {name!r} is given twice')
        splits[name] = path
    return splits


def index_videos(root: str) -> Dict[str, str]:
    """Map the stem of every video file under ``root`` to its path.

    Args:
        root (str): The folder searched recursively.

    Returns:
        dict[str, str]: Clip id (file stem) to path.

    Raises:
        ValueError: If two videos share a stem (the clip id would be
            ambiguous), naming both.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'video folder not found: {root}')
    index = {}
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            stem, suffix = osp.splitext(name)
            if suffix.lower() not in VIDEO_EXTENSIONS:
                continue
            path = osp.join(folder, name)
            if stem in index:
                raise ValueError(f'two videos for clip {stem}: {index[stem]} '
                                 f'and {path}')
            index[stem] = path
    return index


def class_folder_clips(root: str,
                       lookup: Dict[str, int],
                       nested_ids: bool = False
                       ) -> Tuple[List[SplitClip], List[str]]:
    """The videos of ``<root>/<class>/<clip>.<ext>`` folders.

    Args:
        root (str): The folder holding one folder per class.
        lookup (dict[str, int]): Class folder name to label (see
            :func:`~rollingq_mm.datasets.class_names.build_class_lookup`);
            other folders are ignored.
        nested_ids (bool): Name the clips ``<class>/<stem>`` (outputs in
            per-class folders, so equal file names in two classes do not
            collide) instead of ``<stem>``. Defaults to False.

    Returns:
        tuple[list[SplitClip], list[str]]: The clips, by class folder and
        file name, and the folders that were ignored. Whitespace in a clip
        id becomes ``_`` (it separates the fields of the split files).
    """
    clips, ignored = [], []
    for class_dir in class_folders(root):
        if class_dir not in lookup:
            ignored.append(class_dir)
            continue
        folder = osp.join(root, class_dir)
        for name in sorted(os.listdir(folder)):
            stem, suffix = osp.splitext(name)
            if suffix.lower() in VIDEO_EXTENSIONS:
                clip_id = f'{class_dir}/{stem}' if nested_ids else stem
                clips.append(SplitClip('_'.join(clip_id.split()),
                                       osp.join(folder, name),
                                       None, lookup[class_dir]))
    return clips, ignored


def class_folders(root: str) -> List[str]:
    """The sorted sub-folder names of ``root``, hidden ones left out."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'folder not found: {root}')
    return sorted(name for name in os.listdir(root)
                  if not name.startswith('.')
                  and osp.isdir(osp.join(root, name)))


def add_validation_split(splits: Dict[str, Sequence[SplitClip]],
                         source: str,
                         fraction: float,
                         seed: int = 0,
                         name: str = 'val') -> Dict[str, List[SplitClip]]:
    """Carve a fixed validation split out of another split, per class.

    Neither Kinetics-Sounds nor CREMA-D has a validation split, and
    checkpoints must not be selected on the test split. From every class of
    ``source``, ``round(fraction * n)`` clips move to ``name``: the clips are
    ordered by id and shuffled by a generator seeded with ``seed``, so the
    carve-out depends only on the clip ids, the labels and the seed (not on
    the order of the list). Both splits keep the source's line order.

    Args:
        splits (dict[str, Sequence[SplitClip]]): Split name to its clips.
        source (str): The split to carve from, e.g. ``'train'``.
        fraction (float): Share of each class to move, in (0, 1).
        seed (int): Seed of the choice. Defaults to 0.
        name (str): The new split's name. Defaults to ``'val'``.

    Returns:
        dict[str, list[SplitClip]]: The splits with ``source`` reduced and
        ``name`` added.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f'the validation fraction must be in (0, 1), got '
                         f'{fraction}')
    if source not in splits:
        raise ValueError(f'cannot carve {name!r} out of split {source!r}: '
                         f'the splits are {sorted(splits)}')
    if name in splits:
        raise ValueError(f'split {name!r} is already given')
    by_label = defaultdict(list)
    for clip in splits[source]:
        by_label[clip.label].append(clip.clip_id)
    rng = np.random.default_rng(seed)
    carved = set()
    for label in sorted(by_label):
        ids = sorted(by_label[label])
        count = int(round(fraction * len(ids)))
        carved.update(ids[i] for i in rng.permutation(len(ids))[:count])
    result = {split: list(clips) for split, clips in splits.items()}
    result[source] = [c for c in splits[source] if c.clip_id not in carved]
    result[name] = [c for c in splits[source] if c.clip_id in carved]
    return result


def cremad_actor(clip: SplitClip) -> str:
    """The actor of a CREMA-D clip: the first field of its id.

    Args:
        clip (SplitClip): E.g. the clip ``1001_DFA_ANG_XX``.

    Returns:
        str: E.g. ``'1001'``.

    Raises:
        ValueError: If the id does not start with a numeric actor id,
            naming the clip and its video file.
    """
    match = _CREMAD_ACTOR.match(clip.clip_id)
    if match is None:
        raise ValueError(
            f'{clip.video}: clip id {clip.clip_id!r} does not start with a '
            'CREMA-D actor id (ACTOR_SENTENCE_EMOTION_LEVEL, e.g. '
            '1001_DFA_ANG_XX)')
    return match.group(1)


def _actor_count(fraction: float, actors: int, what: str) -> int:
    """``round(fraction * actors)``, checked to leave both sides actors."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f'the {what} fraction must be in (0, 1), got '
                         f'{fraction}')
    count = int(round(fraction * actors))
    if not 0 < count < actors:
        raise ValueError(
            f'a {what} fraction of {fraction} of {actors} actors gives '
            f'{count} {what} actors: both sides need at least one')
    return count


def actor_disjoint_split(clips: Sequence[SplitClip],
                         test_fraction: float,
                         val_fraction: float = 0.0,
                         seed: int = 0) -> Dict[str, List[SplitClip]]:
    """Split CREMA-D clips so that no actor is in two splits.

    The split the paper's lab publishes (OGM-GE's CREMA-D ``train.csv`` /
    ``test.csv``) has every one of the 91 actors in both train and test, so
    its test accuracy rewards recognising a speaker seen in training. Here
    the actors (:func:`cremad_actor`) are ordered by id and shuffled by a
    generator seeded with ``seed``; the first ``round(test_fraction * n)``
    go to ``test``, then ``round(val_fraction * m)`` of the ``m`` others to
    ``val`` (checkpoints are then selected on unseen speakers too), the rest
    to ``train``. Each actor's clips stay together, so the clip shares only
    approximate the actor shares. The result depends only on the clip ids
    and the seed; each split keeps the input's order, and a clip given twice
    is kept once.

    Args:
        clips (Sequence[SplitClip]): All clips, e.g. the published train and
            test lists together.
        test_fraction (float): Share of the actors for ``test``, in (0, 1).
        val_fraction (float): Share of the remaining actors for ``val``, in
            [0, 1); 0 makes no ``val``. Defaults to 0.0.
        seed (int): Seed of the choice. Defaults to 0.

    Returns:
        dict[str, list[SplitClip]]: ``train``, ``val`` (with
        ``val_fraction``) and ``test``.
    """
    unique, seen = [], set()
    for clip in clips:
        if clip.clip_id not in seen:
            seen.add(clip.clip_id)
            unique.append(clip)
    actor_of = {clip.clip_id: cremad_actor(clip) for clip in unique}
    actors = sorted(set(actor_of.values()))
    order = [actors[i] for i in
             np.random.default_rng(seed).permutation(len(actors))]
    num_test = _actor_count(test_fraction, len(actors), 'test')
    split_of = dict.fromkeys(order[:num_test], 'test')
    rest = order[num_test:]
    names = ['train', 'test']
    if val_fraction:
        num_val = _actor_count(val_fraction, len(rest), 'validation')
        split_of.update(dict.fromkeys(rest[:num_val], 'val'))
        rest = rest[num_val:]
        names.insert(1, 'val')
    split_of.update(dict.fromkeys(rest, 'train'))
    return {
        name: [c for c in unique if split_of[actor_of[c.clip_id]] == name]
        for name in names
    }


def write_split_files(out_root: str, split: str,
                      labels: Sequence[Tuple[str, int]],
                      results: Sequence[ClipResult],
                      with_features: bool) -> List[str]:
    """Write the generic annotation file(s) of one split.

    Clips whose extraction failed are left out (they are in the failure
    report). Paths are relative to ``out_root``.

    Args:
        out_root (str): The output root of the extraction.
        split (str): The split name; names ``<split>.txt`` and
            ``<split>_features.txt``.
        labels (Sequence[tuple[str, int]]): ``(clip_id, label)`` in order.
        results (Sequence[ClipResult]): The extraction results of the
            split's clips, in the same order.
        with_features (bool): Also write ``<split>_features.txt`` pointing
            to ``features/<id>.npy``.

    Returns:
        list[str]: The files written.
    """
    kept = [(clip_id, label)
            for (clip_id, label), result in zip(labels, results)
            if result.status != 'failed']
    written = [osp.join(out_root, f'{split}.txt')]
    write_annotation(written[0], [
        AnnotationRecord(clip_id, f'frames/{clip_id}',
                         f'audio/{clip_id}.wav', label)
        for clip_id, label in kept
    ], 'generic')
    if with_features:
        written.append(osp.join(out_root, f'{split}_features.txt'))
        write_annotation(written[1], [
            AnnotationRecord(clip_id, f'frames/{clip_id}',
                             f'features/{clip_id}.npy', label)
            for clip_id, label in kept
        ], 'generic')
    return written


def _first_failure(clips: Sequence[SplitClip],
                   by_id: Dict[str, ClipResult]) -> Tuple[str, str]:
    """``<clip> (<video>), <stage>: <reason>`` of the first failed clip,
    and its stage."""
    clip = next(c for c in clips if by_id[c.clip_id].status == 'failed')
    result = by_id[clip.clip_id]
    return (f'{clip.clip_id} ({clip.video}), {result.stage}: '
            f'{result.reason}', result.stage)


def check_feature_recipe(out_root: str, feature_pipeline: List[dict]
                         ) -> None:
    """Record the feature recipe in ``features/recipe.json``.

    Args:
        out_root (str): The output root.
        feature_pipeline (list[dict]): The recipe's transform configs.

    Raises:
        ValueError: If ``features/`` already holds ``.npy`` files of another
            recipe (a re-run would skip them and mix two recipes).
    """
    folder = osp.join(out_root, 'features')
    path = osp.join(folder, FEATURE_RECIPE_FILE)
    if osp.isfile(path):
        with open(path, encoding='utf-8') as handle:
            previous = json.load(handle)
        if previous == feature_pipeline:
            return
        if any(name.endswith('.npy') for _, _, files in os.walk(folder)
               for name in files):
            raise ValueError(
                f'{folder} holds features of another recipe ({previous}, '
                f'now {feature_pipeline}): a re-run would mix them; delete '
                'that folder or write to another output folder')
    os.makedirs(folder, exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(feature_pipeline, handle, indent=1)


def prepare_splits(splits: Dict[str, Sequence[SplitClip]],
                   out_root: str,
                   workers: int,
                   feature_pipeline: Optional[List[dict]] = None,
                   **task_options) -> Dict[str, List[str]]:
    """Extract the clips of every split once and write the split files.

    A clip listed in several splits is extracted once. Failures go to
    ``<out_root>/failed_clips.tsv`` and are left out of the split files.
    No split file is written empty: if every clip failed, nothing is
    written; if every clip of some splits failed, the others are written.
    Both raise :class:`ExtractionError` with the first failure. The feature
    recipe is kept in ``features/recipe.json``; features of another recipe
    in the same folder are refused.

    Args:
        splits (dict[str, Sequence[SplitClip]]): Split name to its clips.
        out_root (str): The output root.
        workers (int): Worker processes.
        feature_pipeline (list[dict], optional): Transform configs writing
            ``features/<id>.npy`` (see
            :func:`~rollingq_mm.datasets.preparation.parse_feature_recipe`);
            None writes no features. Defaults to None.
        **task_options: ``fps``, ``short_side``, ``jpeg_quality`` of
            :class:`ClipTask`.

    Returns:
        dict[str, list[str]]: Split name to the annotation files written.

    Raises:
        ValueError: If a split lists no clip, a clip id names two different
            sources, or the features folder holds another recipe.
        ExtractionError: If every clip, or every clip of a split, failed.
    """
    if not splits:
        raise ValueError('no split to prepare')
    tasks = {}
    for split, clips in splits.items():
        if not clips:
            raise ValueError(f'split {split!r} lists no clip')
        for clip in clips:
            task = tasks.setdefault(clip.clip_id, ClipTask(
                clip_id=clip.clip_id, video=clip.video, audio=clip.audio,
                out_root=out_root, feature_pipeline=feature_pipeline,
                **task_options))
            if (task.video, task.audio) != (clip.video, clip.audio):
                raise ValueError(
                    f'clip id {clip.clip_id} is given to two sources, '
                    f'{task.video} and {clip.video}: the outputs would '
                    'collide; rename one')
    if feature_pipeline is not None:
        check_feature_recipe(out_root, feature_pipeline)
    report = osp.join(out_root, 'failed_clips.tsv')
    results = run_extraction(list(tasks.values()), workers, report)
    by_id = {result.clip_id: result for result in results}
    all_clips = [clip for clips in splits.values() for clip in clips]
    if all(result.status == 'failed' for result in results):
        first, stage = _first_failure(all_clips, by_id)
        raise ExtractionError(
            f'all {len(results)} clips failed (listed in {report}), so no '
            f'split file was written; the first: {first}', stage)
    empty = [split for split, clips in splits.items()
             if all(by_id[c.clip_id].status == 'failed' for c in clips)]
    written = {
        split: write_split_files(
            out_root, split, [(c.clip_id, c.label) for c in clips],
            [by_id[c.clip_id] for c in clips], feature_pipeline is not None)
        for split, clips in splits.items() if split not in empty
    }
    if empty:
        first, stage = _first_failure(splits[empty[0]], by_id)
        raise ExtractionError(
            f'every clip of the split(s) {", ".join(empty)} failed (listed '
            f'in {report}), so their split files were not written (those of '
            f'{", ".join(written)} were); the first: {first}', stage)
    return written
