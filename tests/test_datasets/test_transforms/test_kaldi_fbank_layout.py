"""KaldiFbank's ``layout``: time-major (T, F) or frequency-major (F, T)."""
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

from rollingq_mm.datasets import KaldiFbank


@pytest.fixture
def chirp(tone):
    """1 s at 44.1 kHz whose pitch rises: the fbank differs along time."""
    rng = np.random.default_rng(0)
    low, high = tone(300, 44100, 0.5, 0.3), tone(3000, 44100, 0.5, 0.3)
    samples = np.concatenate([low, high]) + 0.01 * rng.standard_normal(44100)
    return samples.astype(np.float32)


def test_freq_time_is_the_padded_normalised_fbank_transposed(chirp):
    results = dict(audio=chirp, sample_rate=44100)
    time_major = KaldiFbank()(dict(results))['audios']
    freq_major = KaldiFbank(layout='freq_time')(dict(results))['audios']
    assert time_major.shape == (1, 1024, 128)
    assert freq_major.shape == (1, 128, 1024)
    assert freq_major.dtype == np.float32
    assert freq_major.flags['C_CONTIGUOUS']
    np.testing.assert_array_equal(freq_major[0], time_major[0].T)
    # 98 frames of sound, then the padding frames along the time axis.
    padding = (0.0 + 4.503877) / (2 * 5.141276)
    np.testing.assert_allclose(freq_major[0, :, 98:], padding, rtol=1e-6)
    assert freq_major[0, :, :98].std(axis=0).min() > 0.01
    # Time is the width: the first and second halves of the chirp differ.
    first, second = freq_major[0, :, :45], freq_major[0, :, 53:98]
    assert np.abs(first.mean(1) - second.mean(1)).max() > 1.0


def test_format_audio_shape_keeps_the_layout(chirp):
    """mmaction2's FormatAudioShape(NCTF) only adds the channel axis, so the
    Kinetics-Sounds tower reads (1, 128, 1024) per clip: mel as height."""
    results = KaldiFbank(layout='freq_time')(
        dict(audio=chirp, sample_rate=44100))
    expected = results['audios'][:, None].copy()
    out = TRANSFORMS.build(dict(type='FormatAudioShape',
                                input_format='NCTF'))(results)['audios']
    assert out.shape == (1, 1, 128, 1024)
    np.testing.assert_array_equal(out, expected)


def test_unknown_layout_is_refused_with_its_name():
    with pytest.raises(ValueError, match=r"layout must be one of .*"
                       r"'time_freq', 'freq_time'.*got 'FT'"):
        KaldiFbank(layout='FT')
    assert "layout='freq_time'" in repr(KaldiFbank(layout='freq_time'))
