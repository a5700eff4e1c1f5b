"""Offline data preparation: clip extraction and annotation conversion.

Used by ``tools/data/prepare_clips.py``, ``tools/data/kinetics_sounds``,
``tools/data/cremad`` and ``tools/data/convert_annotations.py``; see
``docs/data_preparation.md``.
"""
from .annotation_conversion import (WRITE_FORMATS, convert_annotation,
                                    format_record, read_annotation,
                                    write_annotation)
from .clip_extraction import (FRAME_TEMPLATE, ClipResult, ClipTask,
                              audio_file, extract_clip, feature_file,
                              frame_dir)
from .command_line import (CLASSES_FILE, add_extraction_arguments,
                           add_validation_arguments, carve_validation,
                           classes_argument, classes_for_labels,
                           run_preparation, write_classes_file)
from .extraction_runner import run_extraction, write_failure_report
from .feature_recipes import (CREMAD_RECIPE, FEATURE_KINDS,
                              KINETICS_SOUNDS_RECIPE, parse_feature_recipe)
from .split_files import (FEATURE_RECIPE_FILE, VIDEO_EXTENSIONS,
                          ExtractionError, SplitClip, actor_disjoint_split,
                          add_validation_split, check_feature_recipe,
                          class_folder_clips, class_folders, cremad_actor,
                          index_videos, parse_split_args,
                          prepare_splits, write_split_files)

__all__ = [
    'ClipTask', 'ClipResult', 'extract_clip', 'run_extraction',
    'write_failure_report', 'frame_dir', 'audio_file', 'feature_file',
    'FRAME_TEMPLATE', 'read_annotation', 'write_annotation',
    'format_record', 'convert_annotation', 'WRITE_FORMATS',
    'VIDEO_EXTENSIONS', 'SplitClip', 'add_validation_split', 'index_videos',
    'parse_split_args', 'actor_disjoint_split', 'cremad_actor',
    'prepare_splits', 'write_split_files', 'ExtractionError',
    'class_folder_clips', 'class_folders', 'check_feature_recipe',
    'FEATURE_RECIPE_FILE',
    'FEATURE_KINDS', 'KINETICS_SOUNDS_RECIPE', 'CREMAD_RECIPE',
    'parse_feature_recipe', 'CLASSES_FILE', 'add_extraction_arguments',
    'add_validation_arguments', 'carve_validation', 'classes_argument',
    'classes_for_labels', 'run_preparation', 'write_classes_file'
]
