"""Decode audio from audio files and containers to a mono float waveform.

- ``.wav`` / ``.flac`` are read with soundfile (libsndfile); a WAV whose
  ``data`` chunk declares more bytes than the file holds is reported as
  truncated (libsndfile would silently return the shorter part).
- Everything else (mp4, avi, mkv, flv, mpg, webm, mp3, ogg, ...) is decoded
  with PyAV from its first audio stream; a decoded duration clearly shorter
  than the stream's declared one (``stream.duration`` or Matroska's
  ``DURATION`` tag) is reported as truncated.
- Channels (stereo, 5.1, ...) are down-mixed by averaging them.
- Resampling, when a target rate is asked for, uses
  :func:`scipy.signal.resample_poly`: a polyphase FIR filter with a
  Kaiser-windowed sinc (beta 5, half-length 10 taps per phase of the larger
  of the two rate factors) at the exact rational ratio of the two rates. It
  suppresses aliasing well, has no wrap-around (unlike FFT resampling with
  :func:`scipy.signal.resample`), is deterministic, and needs no extra
  dependency; libswresample's default filter (16 taps) is shorter and
  lets through more aliasing.

Every failure raises :class:`~rollingq_mm.datasets.InvalidSampleError`
naming the file.
"""
import os.path as osp
import re
import struct
from math import gcd
from typing import Optional, Tuple

import av
import numpy as np
import soundfile
from scipy.signal import resample_poly

from ..errors import InvalidSampleError

SOUNDFILE_EXTENSIONS = frozenset({'.wav', '.flac'})
TRUNCATION_MIN_SECONDS = 0.25
TRUNCATION_FRACTION = 0.05
_UNKNOWN_WAV_SIZES = (0, 0xFFFFFFFF)


def _wav_missing_bytes(path: str) -> int:
    """Bytes that a RIFF/WAVE ``data`` chunk declares but the file lacks."""
    file_size = osp.getsize(path)
    with open(path, 'rb') as handle:
        header = handle.read(12)
        if len(header) < 12 or header[:4] != b'RIFF' or header[8:] != b'WAVE':
            return 0
        offset = 12
        while offset + 8 <= file_size:
            handle.seek(offset)
            chunk_id, size = struct.unpack('<4sI', handle.read(8))
            if chunk_id == b'data':
                if size in _UNKNOWN_WAV_SIZES:
                    return 0
                return max(0, size - (file_size - offset - 8))
            offset += 8 + size + (size & 1)
    return 0


def _read_soundfile(path: str) -> Tuple[np.ndarray, int]:
    """Read a wav/flac file as (C, N) float32 and its sample rate."""
    try:
        with soundfile.SoundFile(path) as handle:
            rate = handle.samplerate
            data = handle.read(dtype='float32', always_2d=True)
    except (soundfile.SoundFileError, RuntimeError) as err:
        raise InvalidSampleError(
            f'cannot read audio file {path}: {err}') from None
    if osp.splitext(path)[1].lower() == '.wav':
        missing = _wav_missing_bytes(path)
        if missing:
            raise InvalidSampleError(
                f'truncated WAV file {path}: its data chunk lacks {missing} '
                'bytes')
    return data.T, rate


def _declared_seconds(stream) -> Optional[float]:
    """The stream's declared duration in seconds, if the container has it."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    tag = stream.metadata.get('DURATION') or stream.metadata.get('duration')
    match = re.match(r'^(\d+):(\d+):(\d+(?:\.\d+)?)$', tag or '')
    if match is None:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _read_container(path: str) -> Tuple[np.ndarray, int]:
    """Decode the first audio stream of a container as (C, N) float32."""
    try:
        container = av.open(path)
    except ValueError as err:
        raise InvalidSampleError(
            f'cannot open media file {path}: {err}') from None
    with container:
        if not container.streams.audio:
            raise InvalidSampleError(f'{path} has no audio track')
        stream = container.streams.audio[0]
        chunks = []
        resampler = None
        rate = stream.sample_rate
        try:
            for frame in container.decode(stream):
                if resampler is None:
                    rate = frame.sample_rate
                    resampler = av.AudioResampler(
                        format='fltp', layout=frame.layout.name, rate=rate)
                chunks.extend(
                    out.to_ndarray() for out in resampler.resample(frame))
            if resampler is not None:
                chunks.extend(
                    out.to_ndarray() for out in resampler.resample(None))
        except ValueError as err:
            raise InvalidSampleError(
                f'cannot decode the audio track of {path}: {err}') from None
        declared = _declared_seconds(stream)
    if not chunks:
        raise InvalidSampleError(f'the audio track of {path} is empty')
    data = np.concatenate(chunks, axis=1)
    decoded = data.shape[1] / rate
    if declared is not None and decoded < declared - max(
            TRUNCATION_MIN_SECONDS, TRUNCATION_FRACTION * declared):
        raise InvalidSampleError(
            f'truncated audio in {path}: decoded {decoded:.2f} s of the '
            f'{declared:.2f} s the stream declares')
    return data, rate


def resample_waveform(waveform: np.ndarray, orig_rate: int,
                      target_rate: int) -> np.ndarray:
    """Resample a 1-D waveform with a polyphase Kaiser-sinc filter.

    Args:
        waveform (np.ndarray): Samples, shape (N,).
        orig_rate (int): Its sample rate in Hz.
        target_rate (int): The wanted rate in Hz.

    Returns:
        np.ndarray: float32 samples, shape (ceil(N * target / orig),).
    """
    if orig_rate == target_rate:
        return waveform.astype(np.float32, copy=False)
    factor = gcd(int(orig_rate), int(target_rate))
    resampled = resample_poly(waveform.astype(np.float64),
                              int(target_rate) // factor,
                              int(orig_rate) // factor)
    return resampled.astype(np.float32)


def decode_audio(path: str,
                 sample_rate: Optional[int] = None) -> Tuple[np.ndarray, int]:
    """Decode a file's audio to a mono float32 waveform.

    Args:
        path (str): An audio file or a container with an audio track.
        sample_rate (int, optional): Resample to this rate; None keeps the
            source rate. Defaults to None.

    Returns:
        tuple[np.ndarray, int]: The waveform, shape (N,), and its rate.

    Raises:
        InvalidSampleError: If the file is missing, unreadable, truncated or
            has no audio track.
    """
    if not osp.isfile(path):
        raise InvalidSampleError(f'audio source not found: {path}')
    if osp.splitext(path)[1].lower() in SOUNDFILE_EXTENSIONS:
        channels, rate = _read_soundfile(path)
    else:
        channels, rate = _read_container(path)
    mono = channels.mean(axis=0, dtype=np.float64)
    if sample_rate is not None and mono.size:
        return resample_waveform(mono, rate, sample_rate), int(sample_rate)
    return mono.astype(np.float32), int(rate)


def check_waveform(waveform: np.ndarray, path: str, allow_silent: bool,
                   silence_threshold: float) -> None:
    """Reject empty, non-finite and (optionally) silent waveforms.

    Args:
        waveform (np.ndarray): Samples, shape (N,).
        path (str): The source file, for the message.
        allow_silent (bool): Accept a waveform whose peak is at or below
            ``silence_threshold``.
        silence_threshold (float): Peak amplitude counted as silence.

    Raises:
        InvalidSampleError: For a zero-length, NaN/Inf or silent waveform.
    """
    if waveform.size == 0:
        raise InvalidSampleError(f'zero-length audio in {path}')
    if not np.all(np.isfinite(waveform)):
        bad = int(np.count_nonzero(~np.isfinite(waveform)))
        raise InvalidSampleError(
            f'audio of {path} holds {bad} NaN/Inf samples')
    if not allow_silent:
        peak = float(np.max(np.abs(waveform)))
        if peak <= silence_threshold:
            raise InvalidSampleError(
                f'audio of {path} is silent (peak {peak:.3g} <= '
                f'{silence_threshold:g}); pass allow_silent=True to accept it')
