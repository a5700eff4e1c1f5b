"""Read annotation files into records and write them in another format.

Reading goes through the dataset's own parsers (so a conversion validates
every line); writing supports ``'generic'``, ``'ogm_ge_ks'`` and
``'space_list'``. For ``ogm_ge_ks`` and ``space_list`` the clip id is the
record's id (the visual path's stem for ``generic`` input); the
``SECONDS`` field of ``ogm_ge_ks`` is not kept by the records and is
written as ``seconds`` (OGM-GE's Kinetics-Sounds lists use 10).
"""
import os
import os.path as osp
from typing import Iterable, List, Optional, Sequence

from ..annotation_formats import (NO_AUDIO, AnnotationRecord,
                                  iter_annotation_lines, parse_annotation_line)
from ..class_names import build_class_lookup, resolve_classes

WRITE_FORMATS = ('generic', 'ogm_ge_ks', 'space_list')


def read_annotation(path: str,
                    ann_format: str,
                    classes: Optional[Sequence[str]] = None,
                    visual_template: str = '{}',
                    audio_template: Optional[str] = '{}.wav'
                    ) -> List[AnnotationRecord]:
    """Parse and validate every line of an annotation file.

    Args:
        path (str): The annotation file.
        ann_format (str): Its format (see
            :data:`~rollingq_mm.datasets.annotation_formats.ANN_FORMATS`).
        classes (Sequence[str] | str, optional): Class names, a list file or
            a shipped list name; needed for name labels and ``'cremad'``.
            Defaults to None.
        visual_template (str): Clip id to visual path. Defaults to ``'{}'``.
        audio_template (str, optional): Clip id to audio path; None for the
            video's track. Defaults to ``'{}.wav'``.

    Returns:
        list[AnnotationRecord]: The clips in file order.
    """
    if classes is None and ann_format == 'cremad':
        classes = 'cremad_6'
    names = resolve_classes(classes) if classes is not None else ()
    lookup = build_class_lookup(names)
    return [
        parse_annotation_line(text, ann_format, f'{path}:{line_no}', lookup,
                              num_classes=len(names) or None,
                              visual_template=visual_template,
                              audio_template=audio_template)
        for line_no, text in iter_annotation_lines(path)
    ]


def format_record(record: AnnotationRecord, ann_format: str,
                  seconds: float = 10) -> str:
    """One annotation line for a record.

    Args:
        record (AnnotationRecord): The clip.
        ann_format (str): One of :data:`WRITE_FORMATS`.
        seconds (float): The ``SECONDS`` field of ``ogm_ge_ks``. Defaults
            to 10.

    Returns:
        str: The line, without a newline.
    """
    if ann_format == 'generic':
        for path in (record.visual, record.audio or ''):
            if any(char.isspace() for char in path):
                raise ValueError(f'path {path!r} of clip {record.clip_id} '
                                 'holds whitespace, which separates fields')
        return f'{record.visual} {record.audio or NO_AUDIO} {record.label}'
    if ann_format == 'ogm_ge_ks':
        return f'{record.clip_id},{seconds:g},{record.label}'
    if ann_format == 'space_list':
        return f'{record.clip_id} {record.label}'
    raise ValueError(f'cannot write ann_format {ann_format!r}; writable: '
                     f'{WRITE_FORMATS}')


def write_annotation(path: str, records: Iterable[AnnotationRecord],
                     ann_format: str, seconds: float = 10) -> int:
    """Write records as an annotation file.

    Args:
        path (str): The output file (parent folders are created).
        records (Iterable[AnnotationRecord]): The clips.
        ann_format (str): One of :data:`WRITE_FORMATS`.
        seconds (float): The ``SECONDS`` field of ``ogm_ge_ks``. Defaults
            to 10.

    Returns:
        int: The number of lines written.
    """
    lines = [format_record(record, ann_format, seconds) for record in records]
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.writelines(line + '\n' for line in lines)
    return len(lines)


def convert_annotation(src: str,
                       dst: str,
                       src_format: str,
                       dst_format: str,
                       classes: Optional[Sequence[str]] = None,
                       visual_template: str = '{}',
                       audio_template: Optional[str] = '{}.wav',
                       seconds: float = 10) -> int:
    """Convert an annotation file between formats.

    Args:
        src (str): The input file.
        dst (str): The output file.
        src_format (str): The input format.
        dst_format (str): The output format, one of :data:`WRITE_FORMATS`.
        classes (Sequence[str] | str, optional): Class names, a list file or
            a shipped list name. Defaults to None.
        visual_template (str): Clip id to visual path when reading an
            id-based format. Defaults to ``'{}'``.
        audio_template (str, optional): Clip id to audio path when reading
            an id-based format. Defaults to ``'{}.wav'``.
        seconds (float): The ``SECONDS`` field of ``ogm_ge_ks`` output.
            Defaults to 10.

    Returns:
        int: The number of clips written.
    """
    if dst_format not in WRITE_FORMATS:
        raise ValueError(f'cannot write ann_format {dst_format!r}; '
                         f'writable: {WRITE_FORMATS}')
    records = read_annotation(src, src_format, classes, visual_template,
                              audio_template)
    return write_annotation(dst, records, dst_format, seconds)
