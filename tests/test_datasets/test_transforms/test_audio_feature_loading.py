"""LoadPrecomputedAudioFeature: layouts and every bad file (never zeros)."""
import numpy as np
import pytest

from rollingq_mm.datasets import (InvalidSampleError,
                                  LoadPrecomputedAudioFeature)


def load(path, **kwargs):
    return LoadPrecomputedAudioFeature(**kwargs)(dict(audio_path=str(path)))


def test_time_frequency_file(tmp_path):
    feature = np.random.default_rng(0).standard_normal((1024, 128))
    np.save(tmp_path / 'f.npy', feature)
    out = load(tmp_path / 'f.npy')
    assert out['audios'].shape == (1, 1024, 128)
    assert out['audios'].dtype == np.float32 and out['length'] == 1024
    np.testing.assert_allclose(out['audios'][0], feature, rtol=1e-6)


def test_frequency_time_file_is_transposed(tmp_path):
    feature = np.arange(257 * 188, dtype=np.float32).reshape(257, 188)
    np.save(tmp_path / 'f.npy', feature[None])
    out = load(tmp_path / 'f.npy', layout='FT')
    assert out['audios'].shape == (1, 188, 257)
    np.testing.assert_array_equal(out['audios'][0], feature.T)


def test_frequency_major_output_matches_the_fbank_layout(tmp_path):
    """output_layout='freq_time' gives what KaldiFbank(layout='freq_time')
    gives the Kinetics-Sounds ViT tower: (1, F, T); length stays T."""
    feature = np.random.default_rng(1).standard_normal((1024, 128))
    np.save(tmp_path / 'f.npy', feature)
    out = load(tmp_path / 'f.npy', output_layout='freq_time')
    assert out['audios'].shape == (1, 128, 1024) and out['length'] == 1024
    np.testing.assert_allclose(out['audios'][0], feature.T, rtol=1e-6)
    with pytest.raises(ValueError, match='output_layout.*mel_time'):
        LoadPrecomputedAudioFeature(output_layout='mel_time')


def test_missing_file_raises_instead_of_zero_filling(tmp_path):
    with pytest.raises(InvalidSampleError, match='not found: .*absent.npy'):
        load(tmp_path / 'absent.npy')


@pytest.mark.parametrize('array,message', [
    (np.zeros((2, 3, 4)), r'shape \(2, 3, 4\)'),
    (np.zeros((0, 128)), 'is empty'),
    (np.array([[1.0, np.nan], [np.inf, 2.0]]), 'holds 2 NaN/Inf'),
    (np.array([['a', 'b']]), 'non-numeric'),
])
def test_bad_contents(tmp_path, array, message):
    np.save(tmp_path / 'bad.npy', array)
    with pytest.raises(InvalidSampleError, match=message):
        load(tmp_path / 'bad.npy')


def test_corrupt_and_truncated_files(tmp_path):
    np.save(tmp_path / 'full.npy', np.ones((100, 64), np.float32))
    data = (tmp_path / 'full.npy').read_bytes()
    (tmp_path / 'cut.npy').write_bytes(data[:len(data) // 2])
    (tmp_path / 'junk.npy').write_bytes(b'junk' * 10)
    (tmp_path / 'empty.npy').write_bytes(b'')
    for name in ('cut.npy', 'junk.npy', 'empty.npy'):
        with pytest.raises(InvalidSampleError, match=f'cannot read .*{name}'):
            load(tmp_path / name)


def test_needs_audio_path():
    with pytest.raises(KeyError, match='audio_path'):
        LoadPrecomputedAudioFeature()(dict(filename='clip.mp4'))
    with pytest.raises(ValueError, match='layout'):
        LoadPrecomputedAudioFeature(layout='TT')
