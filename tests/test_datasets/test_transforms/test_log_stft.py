"""LogSTFT against a numpy STFT written from librosa's conventions."""
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

from rollingq_mm.datasets import LogSTFT


def numpy_log_stft(samples, n_fft=512, hop=353, pad_mode='constant',
                   eps=1e-7):
    """Centred frames, periodic Hann window, rfft, log(|S| + eps)."""
    padded = np.pad(samples, n_fft // 2, mode=pad_mode)
    count = 1 + (padded.size - n_fft) // hop
    n = np.arange(n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    frames = np.stack([padded[t * hop:t * hop + n_fft]
                       for t in range(count)])
    return np.log(np.abs(np.fft.rfft(frames * window, axis=1)) + eps)


@pytest.fixture
def speechlike(tone):
    rng = np.random.default_rng(1)
    samples = tone(300, 22050, 3.0, 0.4) + tone(2500, 22050, 3.0, 0.1)
    return (samples + 0.01 * rng.standard_normal(samples.size)).astype(
        np.float32)


@pytest.mark.parametrize('pad_mode', ['constant', 'reflect'])
def test_matches_numpy_reference(speechlike, pad_mode):
    out = LogSTFT(pad_mode=pad_mode)(dict(audio=speechlike))['audios']
    reference = numpy_log_stft(speechlike.astype(np.float64),
                               pad_mode=pad_mode)
    assert out.shape == (1, 188, 257) and out.dtype == np.float32
    np.testing.assert_allclose(out[0], reference, atol=1e-4, rtol=1e-5)


def test_cremad_recipe_shape_from_a_real_clip(av_clips):
    pipeline = [
        dict(type='LoadAudio', sample_rate=22050),
        dict(type='FixAudioLength', seconds=3, mode='tile',
             crop_position='start'),
        dict(type='LogSTFT'),
    ]
    results = dict(filename=str(av_clips / 'grid_samples' / 'lbbc2a.mpg'))
    for cfg in pipeline:
        results = TRANSFORMS.build(cfg)(results)
    assert results['audio'].size == 66150
    assert results['audios'].shape == (1, 188, 257)
    assert np.all(np.isfinite(results['audios']))


def test_clipping_and_eps(speechlike):
    loud = speechlike * 4
    clipped = LogSTFT()(dict(audio=loud))['audios']
    reference = numpy_log_stft(np.clip(loud, -1, 1).astype(np.float64))
    np.testing.assert_allclose(clipped[0], reference, atol=1e-4, rtol=1e-5)
    silent = LogSTFT()(dict(audio=np.zeros(22050, np.float32)))['audios']
    np.testing.assert_allclose(silent, np.log(1e-7), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match='pad_mode'):
        LogSTFT(pad_mode='edge')
    with pytest.raises(ValueError, match='win_length'):
        LogSTFT(win_length=1024)
