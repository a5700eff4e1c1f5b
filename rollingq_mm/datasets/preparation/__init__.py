"""Offline data preparation: clip extraction and annotation conversion.

Used by ``tools/data/kinetics_sounds``, ``tools/data/cremad`` and
``tools/data/convert_annotations.py``; see ``docs/data_preparation.md``.
"""
from .annotation_conversion import (WRITE_FORMATS, convert_annotation,
                                    format_record, read_annotation,
                                    write_annotation)
from .clip_extraction import (FRAME_TEMPLATE, ClipResult, ClipTask,
                              audio_file, extract_clip, feature_file,
                              frame_dir)
from .extraction_runner import run_extraction, write_failure_report
from .split_files import (VIDEO_EXTENSIONS, SplitClip, actor_disjoint_split,
                          add_validation_split, cremad_actor, index_videos,
                          parse_split_args, prepare_splits, write_split_files)

__all__ = [
    'ClipTask', 'ClipResult', 'extract_clip', 'run_extraction',
    'write_failure_report', 'frame_dir', 'audio_file', 'feature_file',
    'FRAME_TEMPLATE', 'read_annotation', 'write_annotation',
    'format_record', 'convert_annotation', 'WRITE_FORMATS',
    'VIDEO_EXTENSIONS', 'SplitClip', 'add_validation_split', 'index_videos',
    'parse_split_args', 'actor_disjoint_split', 'cremad_actor',
    'prepare_splits', 'write_split_files'
]
