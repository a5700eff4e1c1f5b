"""Parsers for the annotation formats read by ``AudioVisualDataset``.

Every format yields :class:`AnnotationRecord` objects (clip id, visual path,
audio path, integer label); the parsers are pure functions, so the split
converters of :mod:`rollingq_mm.datasets.preparation` reuse them.

Formats (``ann_format``); blank lines and lines starting with ``#`` are
skipped in all of them, and a UTF-8 byte-order mark is ignored:

- ``'generic'``: ``VISUAL AUDIO LABEL`` separated by whitespace (see
  ``docs/interfaces.md``); ``AUDIO`` is ``-`` for the audio track of the
  ``VISUAL`` video file.
- ``'ogm_ge_ks'``: OGM-GE's Kinetics-Sounds lists, ``CLIP_ID,SECONDS,LABEL``
  (e.g. ``--4-0ihtnBU_000058_000068,10,4``: YouTube id, start and end second;
  clip length in seconds, checked to be a number and otherwise unused;
  integer label).
- ``'space_list'``: ``CLIP_ID ... LABEL`` separated by whitespace (the first
  field is the clip id, the last the label, fields between are ignored), as
  the Kinetics-Sounds lists of the RollingQ release.
- ``'cremad'``: CREMA-D clip ids (``1001_DFA_ANG_XX``: actor, sentence,
  emotion, level), one per line, optionally followed by ``,EMOTION`` (OGM-GE's
  ``train.csv``) or whitespace and the emotion; the label comes from the id's
  emotion code and a given emotion must agree with it.

For the id-based formats the clip id is turned into paths with
``visual_template.format(clip_id)`` and ``audio_template.format(clip_id)``
(``audio_template=None``: the audio track of the visual video file).

A label is an integer id or a class name; names with spaces are written with
underscores (``playing_bagpipes``).
"""
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, Optional, Tuple

from .errors import AnnotationError, MissingClassListError

ANN_FORMATS = ('generic', 'ogm_ge_ks', 'space_list', 'cremad')
IMAGE_EXTENSIONS = frozenset(
    {'.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff'})
NO_AUDIO = '-'
_CREMAD_ID = re.compile(r'^(\d+)_([A-Za-z]+)_([A-Za-z]+)_([A-Za-z0-9]+)$')
_INTEGER = re.compile(r'^[+-]?\d+$')


@dataclass(frozen=True)
class AnnotationRecord:
    """One clip of an annotation file.

    Args:
        clip_id (str): The clip's id (the visual path's stem in ``generic``).
        visual (str): Video file, frame folder or still image, relative to
            the dataset's video prefix.
        audio (str, optional): Audio file, container or ``.npy`` feature,
            relative to the audio prefix; None for the audio track of
            ``visual``.
        label (int): The class id.
    """

    clip_id: str
    visual: str
    audio: Optional[str]
    label: int


def iter_annotation_lines(path: str) -> Iterator[Tuple[int, str]]:
    """Yield ``(line_no, text)`` for the non-blank, non-comment lines.

    Args:
        path (str): The annotation file.

    Returns:
        Iterator[tuple[int, str]]: 1-based line numbers and stripped lines.
    """
    with open(path, encoding='utf-8-sig') as handle:
        for line_no, line in enumerate(handle, start=1):
            text = line.strip()
            if text and not text.startswith('#'):
                yield line_no, text


def visual_kind(visual: str) -> str:
    """Name the info-dict key a visual path belongs to.

    A path without a suffix is a frame folder, an image suffix is a still
    image, anything else is a video container (decoded with PyAV).

    Args:
        visual (str): The visual path.

    Returns:
        str: ``'frame_dir'``, ``'img_path'`` or ``'filename'``.
    """
    suffix = Path(visual).suffix.lower()
    if not suffix:
        return 'frame_dir'
    if suffix in IMAGE_EXTENSIONS:
        return 'img_path'
    return 'filename'


def parse_label(token: str, class_lookup: Dict[str, int],
                num_classes: Optional[int], where: str) -> int:
    """Parse a label token (integer id or class name) and check its range.

    Args:
        token (str): The label field.
        class_lookup (dict[str, int]): Class names to ids (may be empty).
        num_classes (int, optional): The number of classes; None skips the
            upper bound check.
        where (str): ``file:line`` for error messages.

    Returns:
        int: The class id.

    Raises:
        AnnotationError: For an unknown name or an id out of range;
            :class:`MissingClassListError` for a name without a class list.
    """
    if _INTEGER.match(token):
        label = int(token)
    elif token in class_lookup:
        return class_lookup[token]
    elif class_lookup:
        raise AnnotationError(
            f'{where}: label {token!r} is neither an integer nor one of the '
            f'{num_classes} class names')
    else:
        raise MissingClassListError(
            f'{where}: label {token!r} is not an integer and no class list '
            'was given')
    if label < 0 or (num_classes is not None and label >= num_classes):
        bound = 'inf' if num_classes is None else num_classes
        raise AnnotationError(
            f'{where}: label {label} is out of range [0, {bound})')
    return label


def _from_template(template: Optional[str], clip_id: str) -> Optional[str]:
    return None if template is None else template.format(clip_id)


def _parse_generic(text: str, class_lookup: Dict[str, int],
                   num_classes: Optional[int], where: str,
                   **_) -> AnnotationRecord:
    fields = text.split()
    if len(fields) != 3:
        raise AnnotationError(
            f'{where}: expected 3 fields "VISUAL AUDIO LABEL", got '
            f'{len(fields)}: {text!r}')
    visual, audio, label = fields
    if audio == NO_AUDIO and visual_kind(visual) != 'filename':
        raise AnnotationError(
            f'{where}: AUDIO "-" takes the audio track of VISUAL, which must '
            f'then be a video file, not a {visual_kind(visual)}: {visual}')
    clip_id = Path(visual.rstrip('/')).stem
    return AnnotationRecord(
        clip_id=clip_id, visual=visual,
        audio=None if audio == NO_AUDIO else audio,
        label=parse_label(label, class_lookup, num_classes, where))


def _parse_ogm_ge_ks(text: str, class_lookup: Dict[str, int],
                     num_classes: Optional[int], where: str,
                     visual_template: str,
                     audio_template: Optional[str]) -> AnnotationRecord:
    fields = [field.strip() for field in text.split(',')]
    if len(fields) != 3 or not fields[0]:
        raise AnnotationError(
            f'{where}: expected "CLIP_ID,SECONDS,LABEL", got {text!r}')
    clip_id, seconds, label = fields
    try:
        float(seconds)
    except ValueError:
        raise AnnotationError(
            f'{where}: the second field must be the clip length in seconds, '
            f'got {seconds!r}') from None
    return AnnotationRecord(
        clip_id=clip_id, visual=visual_template.format(clip_id),
        audio=_from_template(audio_template, clip_id),
        label=parse_label(label, class_lookup, num_classes, where))


def _parse_space_list(text: str, class_lookup: Dict[str, int],
                      num_classes: Optional[int], where: str,
                      visual_template: str,
                      audio_template: Optional[str]) -> AnnotationRecord:
    fields = text.split()
    if len(fields) < 2:
        raise AnnotationError(
            f'{where}: expected "CLIP_ID ... LABEL", got {text!r}')
    clip_id = fields[0]
    return AnnotationRecord(
        clip_id=clip_id, visual=visual_template.format(clip_id),
        audio=_from_template(audio_template, clip_id),
        label=parse_label(fields[-1], class_lookup, num_classes, where))


def _parse_cremad(text: str, class_lookup: Dict[str, int],
                  num_classes: Optional[int], where: str,
                  visual_template: str,
                  audio_template: Optional[str]) -> AnnotationRecord:
    fields = [field for field in re.split(r'[,\s]+', text) if field]
    if len(fields) > 2:
        raise AnnotationError(
            f'{where}: expected "CLIP_ID" or "CLIP_ID,EMOTION", got {text!r}')
    clip_id = fields[0]
    match = _CREMAD_ID.match(clip_id)
    if match is None:
        raise AnnotationError(
            f'{where}: {clip_id!r} is not a CREMA-D clip id '
            '(ACTOR_SENTENCE_EMOTION_LEVEL, e.g. 1001_DFA_ANG_XX)')
    emotion = match.group(3)
    if emotion not in class_lookup:
        raise AnnotationError(
            f'{where}: emotion {emotion!r} of clip {clip_id} is not one of '
            f'the classes {sorted(class_lookup)}')
    label = class_lookup[emotion]
    if len(fields) == 2:
        given = parse_label(fields[1], class_lookup, num_classes, where)
        if given != label:
            raise AnnotationError(
                f'{where}: label {fields[1]!r} disagrees with the emotion '
                f'{emotion!r} in the clip id {clip_id}')
    return AnnotationRecord(
        clip_id=clip_id, visual=visual_template.format(clip_id),
        audio=_from_template(audio_template, clip_id), label=label)


_PARSERS = {
    'generic': _parse_generic,
    'ogm_ge_ks': _parse_ogm_ge_ks,
    'space_list': _parse_space_list,
    'cremad': _parse_cremad,
}


def parse_annotation_line(text: str,
                          ann_format: str,
                          where: str,
                          class_lookup: Dict[str, int],
                          num_classes: Optional[int] = None,
                          visual_template: str = '{}',
                          audio_template: Optional[str] = '{}.wav'
                          ) -> AnnotationRecord:
    """Parse one non-blank, non-comment annotation line.

    Args:
        text (str): The stripped line.
        ann_format (str): One of :data:`ANN_FORMATS`.
        where (str): ``file:line`` for error messages.
        class_lookup (dict[str, int]): Class names to ids (may be empty).
        num_classes (int, optional): Labels must lie in
            ``[0, num_classes)``. Defaults to None (no upper bound).
        visual_template (str): Clip id to visual path for the id-based
            formats. Defaults to ``'{}'``.
        audio_template (str, optional): Clip id to audio path for the
            id-based formats; None uses the audio track of the video.
            Defaults to ``'{}.wav'``.

    Returns:
        AnnotationRecord: The parsed clip.

    Raises:
        AnnotationError: For a malformed line or a bad label, naming
            ``where``.
    """
    if ann_format not in _PARSERS:
        raise ValueError(
            f'ann_format must be one of {ANN_FORMATS}, got {ann_format!r}')
    return _PARSERS[ann_format](
        text, class_lookup=class_lookup, num_classes=num_classes,
        where=where, visual_template=visual_template,
        audio_template=audio_template)
