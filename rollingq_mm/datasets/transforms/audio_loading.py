"""``LoadAudio``: decode a sample's audio into a mono waveform."""
import os.path as osp
from typing import Optional

from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from .audio_decoding import check_waveform, decode_audio


def audio_source(results: dict, required: bool = True) -> str:
    """The file a sample's audio comes from: ``audio_path`` or ``filename``.

    Args:
        results (dict): The pipeline results.
        required (bool): Raise if neither key is set; otherwise return a
            placeholder for messages. Defaults to True.

    Returns:
        str: ``results['audio_path']`` when set, else ``results['filename']``
        (the audio track of the video).

    Raises:
        KeyError: If neither key is set and ``required``.
    """
    path = results.get('audio_path')
    if path is None:
        path = results.get('filename')
    if path is None:
        if required:
            raise KeyError('no audio source: the sample has neither '
                           "'audio_path' nor 'filename'")
        return '<waveform without a file>'
    return path


@TRANSFORMS.register_module()
class LoadAudio(BaseTransform):
    """Decode audio from an audio file or a container's audio track.

    Reads ``audio_path``, or, when it is absent or None, the audio track of
    ``filename``. wav/flac go through soundfile, every other format (mp4,
    avi, mkv, flv, mpg, mp3, ...) through PyAV; channels are averaged to mono
    and, if ``sample_rate`` is set, resampled with a polyphase Kaiser-sinc
    filter (see :mod:`~rollingq_mm.datasets.transforms.audio_decoding`).

    Required keys: ``audio_path`` or ``filename``.
    Added keys: ``audio`` (float32, (N,)), ``sample_rate`` (int).

    Missing, unreadable or truncated files, a container without an audio
    track, zero-length audio, NaN/Inf samples and (unless ``allow_silent``)
    an all-silent waveform raise
    :class:`~rollingq_mm.datasets.InvalidSampleError` naming the file.

    Args:
        sample_rate (int, optional): Target rate in Hz; None keeps the source
            rate (the Kinetics-Sounds fbank recipe). Defaults to None.
        allow_silent (bool): Accept audio whose peak amplitude is at or below
            ``silence_threshold``. Defaults to False.
        silence_threshold (float): Peak amplitude (full scale 1.0) counted as
            silence; the default lies below one 16-bit quantisation step, so
            very quiet but real recordings pass. Defaults to 1e-5.
    """

    def __init__(self,
                 sample_rate: Optional[int] = None,
                 allow_silent: bool = False,
                 silence_threshold: float = 1e-5) -> None:
        if sample_rate is not None and sample_rate <= 0:
            raise ValueError(
                f'sample_rate must be positive, got {sample_rate}')
        if silence_threshold < 0:
            raise ValueError('silence_threshold must be >= 0, got '
                             f'{silence_threshold}')
        self.sample_rate = sample_rate
        self.allow_silent = allow_silent
        self.silence_threshold = silence_threshold

    def transform(self, results: dict) -> dict:
        """Decode the audio of one sample.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with ``audio`` and ``sample_rate``.
        """
        path = audio_source(results)
        if osp.splitext(path)[1].lower() == '.npy':
            raise ValueError(
                f'{path} is a pre-computed feature: load it with '
                'LoadPrecomputedAudioFeature, not LoadAudio')
        waveform, rate = decode_audio(path, self.sample_rate)
        check_waveform(waveform, path, self.allow_silent,
                       self.silence_threshold)
        results['audio'] = waveform
        results['sample_rate'] = rate
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sample_rate={self.sample_rate}, '
                f'allow_silent={self.allow_silent}, '
                f'silence_threshold={self.silence_threshold})')
