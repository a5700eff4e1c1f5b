"""KaldiFbank against an independent numpy implementation of Kaldi's fbank.

The reference below follows Kaldi's ``compute-fbank-feats`` semantics
(feature-window.cc, mel-computations.cc): frames with ``snip_edges``, DC
removal, pre-emphasis ``x[i] -= c x[i-1]`` (``x[0] -= c x[0]``), symmetric
Hann window, FFT padded to a power of two, power spectrum, triangular mel
filters on the ``1127 ln(1 + f / 700)`` scale between ``low_freq`` and
Nyquist, log with a FLT_EPSILON floor.
"""
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

from rollingq_mm.datasets import InvalidSampleError, KaldiFbank

FLT_EPSILON = np.finfo(np.float32).eps


def mel(freq):
    return 1127.0 * np.log(1.0 + np.asarray(freq) / 700.0)


def kaldi_fbank_reference(samples, rate, num_bins=128, preemph=0.97,
                          low_freq=20.0):
    window_size = int(rate * 0.025)
    shift = int(rate * 0.010)
    padded = 1 << int(np.ceil(np.log2(window_size)))
    count = 1 + (samples.size - window_size) // shift
    frames = np.stack([samples[i * shift:i * shift + window_size]
                       for i in range(count)]).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    emphasised = frames.copy()
    emphasised[:, 1:] -= preemph * frames[:, :-1]
    emphasised[:, 0] -= preemph * frames[:, 0]
    n = np.arange(window_size)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / (window_size - 1))
    power = np.abs(np.fft.rfft(emphasised * hann, n=padded)) ** 2
    fft_freqs = np.arange(padded // 2) * rate / padded
    fft_mels = mel(fft_freqs)
    low, high = mel(low_freq), mel(rate / 2)
    delta = (high - low) / (num_bins + 1)
    weights = np.zeros((num_bins, padded // 2 + 1))
    for b in range(num_bins):
        left, centre, right = low + b * delta, low + (b + 1) * delta, \
            low + (b + 2) * delta
        rising = (fft_mels > left) & (fft_mels <= centre)
        falling = (fft_mels > centre) & (fft_mels < right)
        weights[b, :padded // 2][rising] = \
            (fft_mels[rising] - left) / (centre - left)
        weights[b, :padded // 2][falling] = \
            (right - fft_mels[falling]) / (right - centre)
    return np.log(np.maximum(power @ weights.T, FLT_EPSILON))


@pytest.fixture
def noisy_tone(tone):
    rng = np.random.default_rng(0)
    samples = tone(1000, 22050, 1.0, 0.3) + 0.05 * rng.standard_normal(22050)
    return samples.astype(np.float32)


def test_matches_the_numpy_kaldi_reference(noisy_tone):
    transform = KaldiFbank(target_frames=None, norm_mean=None, norm_std=None)
    out = transform(dict(audio=noisy_tone, sample_rate=22050))['audios']
    centred = noisy_tone - noisy_tone.mean()
    reference = kaldi_fbank_reference(centred, 22050)
    assert out.shape == (1, reference.shape[0], 128) == (1, 98, 128)
    np.testing.assert_allclose(out[0], reference, atol=2e-3, rtol=1e-4)


def test_recipe_padding_and_normalisation(noisy_tone):
    raw = KaldiFbank(target_frames=None, norm_mean=None, norm_std=None)(
        dict(audio=noisy_tone, sample_rate=22050))['audios'][0]
    out = KaldiFbank()(dict(audio=noisy_tone, sample_rate=22050))['audios']
    assert out.shape == (1, 1024, 128) and out.dtype == np.float32
    normalise = lambda x: (x + 4.503877) / (2 * 5.141276)  # noqa: E731
    np.testing.assert_allclose(out[0, :98], normalise(raw), rtol=1e-5,
                               atol=1e-5)
    np.testing.assert_allclose(out[0, 98:], normalise(0.0), rtol=1e-6)


def test_long_input_is_cut_to_target_frames(tone):
    samples = tone(440, 44100, 11.0, 0.3).astype(np.float32)
    out = KaldiFbank()(dict(audio=samples, sample_rate=44100))['audios']
    assert out.shape == (1, 1024, 128)


def test_waveform_mean_is_removed_first(noisy_tone):
    transform = KaldiFbank(target_frames=None, norm_mean=None, norm_std=None,
                           remove_dc_offset=False)
    a = transform(dict(audio=noisy_tone, sample_rate=22050))['audios']
    b = transform(dict(audio=noisy_tone + 0.2, sample_rate=22050))['audios']
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_real_clip_at_source_rate(av_clips):
    pipeline = [TRANSFORMS.build(dict(type='LoadAudio')),
                TRANSFORMS.build(dict(type='KaldiFbank'))]
    results = dict(filename=str(av_clips / 'flipping_a_pancake.mkv'))
    for transform in pipeline:
        results = transform(results)
    out = results['audios']
    assert out.shape == (1, 1024, 128)
    # 10.37 s at a 10 ms shift -> 1035 frames, cut to 1024: no padding rows
    assert np.all(np.isfinite(out)) and out[0, -1].std() > 0


def test_128_bins_at_16khz_is_a_clear_error(tone):
    samples = tone(440, 16000, 1.0).astype(np.float32)
    with pytest.raises(ValueError, match=r'128 mel bins at 16000 Hz for '
                       r'clip.wav.*fewer bins'):
        KaldiFbank()(dict(audio=samples, sample_rate=16000,
                          audio_path='clip.wav'))
    out = KaldiFbank(num_mel_bins=80)(dict(audio=samples, sample_rate=16000))
    assert out['audios'].shape == (1, 1024, 80)


def test_shorter_than_one_frame(tone):
    samples = tone(440, 22050, 0.01).astype(np.float32)
    with pytest.raises(InvalidSampleError, match='tiny.wav .*shorter than'):
        KaldiFbank()(dict(audio=samples, sample_rate=22050,
                          audio_path='tiny.wav'))


def test_options_are_all_explicit():
    opts = KaldiFbank().fbank_options(44100)
    assert opts.frame_opts.dither == 0.0
    assert opts.frame_opts.window_type == 'hanning'
    assert opts.frame_opts.preemph_coeff == pytest.approx(0.97)
    assert opts.mel_opts.num_bins == 128
    assert opts.htk_compat and not opts.use_energy
    with pytest.raises(ValueError, match='both'):
        KaldiFbank(norm_mean=0.0, norm_std=None)
