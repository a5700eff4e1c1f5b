"""Fixtures for the dataset tests: real media paths and media made in tmp."""
import fractions
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile

import rollingq_mm  # noqa: F401  (registers the components)

SHARED_DATA = Path(__file__).resolve().parents[2] / '..' / 'shared' / 'data'
AV_CLIPS = SHARED_DATA / 'av_clips'
FSDD = SHARED_DATA / 'fsdd' / 'recordings'
GRID = AV_CLIPS / 'grid_samples'
CLIPS_WITH_AUDIO = ('chaplin.mp4', 'fire2.mp4', 'flipping_a_pancake.mkv',
                    'kinetics_style_makeup.avi')


@pytest.fixture(scope='session')
def av_clips() -> Path:
    """The folder of real video clips."""
    assert AV_CLIPS.is_dir(), f'shared test data missing: {AV_CLIPS}'
    return AV_CLIPS


@pytest.fixture(scope='session')
def fsdd_dir() -> Path:
    """The Free Spoken Digit Dataset recordings (8 kHz wavs)."""
    assert FSDD.is_dir(), f'shared test data missing: {FSDD}'
    return FSDD


@pytest.fixture(scope='session')
def grid_dir() -> Path:
    """The GRID corpus MPEG-PS samples."""
    assert GRID.is_dir(), f'shared test data missing: {GRID}'
    return GRID


def write_flv(src: Path, dst: Path, seconds: float = 3.0,
              audio: bool = True) -> Path:
    """Re-encode the start of a clip as FLV (Sorenson video, mp3 audio).

    PyAV's bundled FFmpeg encodes it, so no ffmpeg binary is needed.
    """
    with av.open(str(src)) as source, av.open(str(dst), 'w',
                                              format='flv') as out:
        video = out.add_stream('flv', rate=25)
        video.width, video.height, video.pix_fmt = 320, 180, 'yuv420p'
        if audio:
            sound = out.add_stream('mp3', rate=44100)
            sound.layout = 'stereo'
        for index, frame in enumerate(source.decode(video=0)):
            if index >= seconds * 25:
                break
            rgb = np.ascontiguousarray(
                frame.to_ndarray(format='rgb24', width=320, height=180))
            encoded = av.VideoFrame.from_ndarray(rgb, format='rgb24')
            encoded = encoded.reformat(format='yuv420p')
            encoded.pts, encoded.time_base = index, fractions.Fraction(1, 25)
            for packet in video.encode(encoded):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio:
            source.seek(0)
            done = 0
            for frame in source.decode(audio=0):
                if done >= seconds * 44100:
                    break
                frame.pts = None
                for packet in sound.encode(frame):
                    out.mux(packet)
                done += frame.samples
            for packet in sound.encode():
                out.mux(packet)
    return dst


@pytest.fixture(scope='session')
def flv_clip(tmp_path_factory) -> Path:
    """An FLV (video + mp3 audio) made from chaplin.mp4."""
    folder = tmp_path_factory.mktemp('flv')
    return write_flv(AV_CLIPS / 'chaplin.mp4', folder / 'chaplin.flv')


def sine(freq: float, rate: int, seconds: float,
         amplitude: float = 0.5) -> np.ndarray:
    """A sine tone as float64 samples."""
    t = np.arange(int(round(rate * seconds))) / rate
    return amplitude * np.sin(2 * np.pi * freq * t)


@pytest.fixture
def tone():
    """``tone(freq, rate, seconds, amplitude=0.5)``: a sine, float64 (N,)."""
    return sine


@pytest.fixture
def make_wav(tmp_path):
    """``make_wav(name, samples, rate, subtype='PCM_16')`` -> path in tmp."""

    def write(name: str, samples: np.ndarray, rate: int,
              subtype: str = 'PCM_16') -> Path:
        path = tmp_path / name
        soundfile.write(str(path), samples, rate, subtype=subtype)
        return path

    return write
