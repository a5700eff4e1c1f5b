"""Datasets and data transforms of rollingq_mm (audio-visual clips)."""
from .audio_visual_dataset import AudioVisualDataset
from .class_names import (BUILTIN_CLASS_LISTS, CREMAD_CLASSES,
                          read_class_list, resolve_classes)
from .errors import AnnotationError, InvalidSampleError, MissingClassListError
from .transforms import (AddGaussianNoise, FixAudioLength, KaldiFbank,
                         LoadAudio, LoadPrecomputedAudioFeature, LogSTFT,
                         SampleSegmentFrames)

__all__ = [
    'AudioVisualDataset', 'AnnotationError', 'InvalidSampleError',
    'MissingClassListError',
    'BUILTIN_CLASS_LISTS', 'CREMAD_CLASSES', 'read_class_list',
    'resolve_classes', 'LoadAudio', 'FixAudioLength', 'KaldiFbank',
    'LogSTFT', 'LoadPrecomputedAudioFeature', 'SampleSegmentFrames',
    'AddGaussianNoise'
]
