"""AddGaussianNoise: scale, determinism, dtypes."""
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

from rollingq_mm.datasets import AddGaussianNoise
from rollingq_mm.utils import sample_rng


def audio_sample(idx=0, seed=3):
    rng = np.random.default_rng(seed)
    return dict(audios=(2.0 * rng.standard_normal((1, 200, 64)) + 1.0)
                .astype(np.float32), sample_idx=idx)


def image_sample(idx=0):
    rng = np.random.default_rng(5)
    imgs = [rng.integers(60, 200, (32, 32, 3), dtype=np.uint8)
            for _ in range(3)]
    return dict(imgs=imgs, sample_idx=idx)


def test_noise_std_is_level_times_sample_std():
    clean = audio_sample()
    noisy = AddGaussianNoise('audios', level=0.5)(audio_sample())['audios']
    added = noisy - clean['audios']
    assert noisy.dtype == np.float32 and noisy.shape == (1, 200, 64)
    assert abs(added.std() / clean['audios'].std() - 0.5) < 0.02
    assert abs(added.mean()) < 0.02


def test_given_reference_std():
    clean = audio_sample()
    noisy = AddGaussianNoise('audios', level=2.0, std=0.1)(
        audio_sample())['audios']
    assert abs((noisy - clean['audios']).std() - 0.2) < 0.01


def test_same_sample_same_noise_other_sample_other_noise():
    transform = AddGaussianNoise('audios', level=1.0, seed=7)
    first = transform(audio_sample(idx=4))['audios']
    again = transform(audio_sample(idx=4))['audios']
    other = transform(audio_sample(idx=5))['audios']
    reseeded = AddGaussianNoise('audios', level=1.0, seed=8)(
        audio_sample(idx=4))['audios']
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert not np.allclose(first, reseeded)


def test_noise_is_the_sample_stream_of_seed_index_and_key():
    clean = audio_sample(idx=4)['audios']
    noisy = AddGaussianNoise('audios', level=0.5, seed=7)(
        audio_sample(idx=4))['audios']
    expected = clean.astype(np.float64) + sample_rng(7, 4, 'audios').normal(
        0.0, 0.5 * float(clean.std()), size=clean.shape)
    np.testing.assert_array_equal(noisy, expected.astype(np.float32))


def test_level_zero_is_identity_and_images_stay_uint8():
    clean = image_sample()
    same = AddGaussianNoise('imgs', level=0)(image_sample())['imgs']
    for a, b in zip(same, clean['imgs']):
        np.testing.assert_array_equal(a, b)
    noisy = AddGaussianNoise('imgs', level=0.3)(image_sample())['imgs']
    assert isinstance(noisy, list) and len(noisy) == 3
    assert all(img.dtype == np.uint8 for img in noisy)
    change = np.stack(noisy).astype(float) - np.stack(clean['imgs'])
    assert 0.2 < change.std() / np.stack(clean['imgs']).std() < 0.35
    heavy = AddGaussianNoise('imgs', level=50)(image_sample())['imgs']
    assert np.stack(heavy).min() == 0 and np.stack(heavy).max() == 255


def test_needs_sample_idx_equal_shapes_and_valid_arguments():
    with pytest.raises(KeyError, match='sample_idx'):
        AddGaussianNoise('audios', level=1)(dict(audios=np.zeros((1, 2, 2))))
    mixed = dict(imgs=[np.zeros((4, 4, 3), np.uint8),
                       np.zeros((5, 4, 3), np.uint8)], sample_idx=0)
    with pytest.raises(ValueError, match='different shapes'):
        AddGaussianNoise('imgs', level=1)(mixed)
    with pytest.raises(ValueError, match='level'):
        AddGaussianNoise('imgs', level=-1)


def test_registered():
    built = TRANSFORMS.build(dict(type='AddGaussianNoise', key='audio',
                                  level=0.25, seed=3))
    waveform = np.sin(np.linspace(0, 20, 1000)).astype(np.float32)
    out = built(dict(audio=waveform.copy(), sample_idx=1))['audio']
    assert out.dtype == np.float32 and not np.allclose(out, waveform)
