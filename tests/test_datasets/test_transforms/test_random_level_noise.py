"""AddRandomLevelNoise: seeded per-sample levels, recorded, noise as
AddGaussianNoise at that level."""
import numpy as np
import pytest

from rollingq_mm.datasets.transforms import (AddGaussianNoise,
                                             AddRandomLevelNoise)
from rollingq_mm.utils import sample_rng


def sample(idx: int) -> dict:
    rng = np.random.default_rng(100 + idx)
    return dict(sample_idx=idx,
                audios=rng.standard_normal((1, 96, 40)).astype(np.float32),
                imgs=[rng.integers(0, 256, (28, 28, 3), dtype=np.uint8)])


def test_level_is_drawn_per_sample_in_range_and_recorded():
    transform = AddRandomLevelNoise('audios', max_level=2.0, min_level=0.5,
                                    seed=1)
    levels = [transform(sample(i))['noise_level']['audios']
              for i in range(200)]
    assert min(levels) >= 0.5 and max(levels) <= 2.0
    assert len(set(levels)) == 200
    assert np.mean(levels) == pytest.approx(1.25, abs=0.1)
    assert levels[7] == transform.draw_level(7)
    again = AddRandomLevelNoise('audios', max_level=2.0, min_level=0.5,
                                seed=1)
    assert again(sample(7))['noise_level']['audios'] == levels[7]
    other_seed = AddRandomLevelNoise('audios', 2.0, 0.5, seed=2)
    assert other_seed.draw_level(7) != levels[7]
    # the level stream is the sample stream of (seed, idx, '<key>/level')
    assert levels[7] == sample_rng(1, 7, 'audios/level').uniform(0.5, 2.0)


def test_noise_equals_add_gaussian_noise_at_the_drawn_level():
    transform = AddRandomLevelNoise('imgs', max_level=1.0, seed=3)
    out = transform(sample(5))
    level = out['noise_level']['imgs']
    expected = AddGaussianNoise('imgs', level, seed=3)(sample(5))
    assert np.array_equal(out['imgs'][0], expected['imgs'][0])
    assert not np.array_equal(out['imgs'][0], sample(5)['imgs'][0])
    assert np.array_equal(out['audios'], sample(5)['audios'])


def test_two_modalities_record_both_levels():
    results = AddRandomLevelNoise('audios', 1.0, seed=0)(sample(2))
    results = AddRandomLevelNoise('imgs', 1.0, seed=0)(results)
    assert set(results['noise_level']) == {'audios', 'imgs'}
    # the level generator differs per key
    assert results['noise_level']['audios'] != results['noise_level']['imgs']


@pytest.mark.parametrize('kwargs, message', [
    (dict(max_level=1.0, min_level=-0.1), 'min_level must be >= 0'),
    (dict(max_level=0.5, min_level=0.5), 'max_level must be > min_level'),
    (dict(max_level=1.0, std=-1.0), 'std must be >= 0'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        AddRandomLevelNoise('audios', **kwargs)


def test_needs_sample_idx():
    results = sample(0)
    del results['sample_idx']
    with pytest.raises(KeyError, match='AddRandomLevelNoise needs'):
        AddRandomLevelNoise('audios', 1.0)(results)
