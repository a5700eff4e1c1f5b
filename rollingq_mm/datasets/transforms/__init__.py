"""Data transforms of rollingq_mm, registered in mmaction2's TRANSFORMS."""
from .audio_feature_loading import LoadPrecomputedAudioFeature
from .audio_length import FixAudioLength
from .audio_loading import LoadAudio
from .corruptions import AddGaussianNoise
from .frame_sampling import SampleSegmentFrames
from .kaldi_fbank import KaldiFbank
from .log_stft import LogSTFT
from .per_frame import PerFrame
from .random_level_noise import AddRandomLevelNoise

__all__ = [
    'LoadAudio', 'FixAudioLength', 'KaldiFbank', 'LogSTFT',
    'LoadPrecomputedAudioFeature', 'SampleSegmentFrames', 'AddGaussianNoise',
    'AddRandomLevelNoise', 'PerFrame'
]
