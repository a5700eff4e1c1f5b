"""FixAudioLength: pad right, tile, crop positions, strict crop mode."""
import numpy as np
import pytest
from mmaction.registry import TRANSFORMS

from rollingq_mm.datasets import FixAudioLength, InvalidSampleError


def sample(length, rate=10):
    return dict(audio=np.arange(1, length + 1, dtype=np.float32),
                sample_rate=rate, audio_path='clip.wav')


def test_pad_appends_zeros_on_the_right_only():
    out = FixAudioLength(seconds=1.0, mode='pad')(sample(6))['audio']
    np.testing.assert_array_equal(out, [1, 2, 3, 4, 5, 6, 0, 0, 0, 0])
    assert out.dtype == np.float32


def test_tile_repeats_then_cuts_like_the_cremad_recipe():
    transform = FixAudioLength(seconds=1.0, mode='tile',
                               crop_position='start')
    out = transform(sample(4))['audio']
    np.testing.assert_array_equal(out, [1, 2, 3, 4, 1, 2, 3, 4, 1, 2])
    recipe = np.tile(np.arange(1, 5, dtype=np.float32), 3)[:10]
    np.testing.assert_array_equal(out, recipe)


def test_longer_clip_is_cut_at_the_centre_in_test_mode():
    transform = FixAudioLength(seconds=1.0, test_mode=True)
    np.testing.assert_array_equal(
        transform(sample(14))['audio'], np.arange(3, 13))


def test_longer_clip_is_cut_at_random_windows_in_training():
    transform = FixAudioLength(seconds=1.0)
    starts = {int(transform(sample(30))['audio'][0]) for _ in range(200)}
    assert len(starts) > 10
    assert min(starts) >= 1 and max(starts) <= 21


def test_start_position_and_exact_length_unchanged():
    out = FixAudioLength(seconds=1.0, crop_position='start')(sample(25))
    np.testing.assert_array_equal(out['audio'], np.arange(1, 11))
    same = FixAudioLength(seconds=1.0, mode='crop')(sample(10))['audio']
    np.testing.assert_array_equal(same, np.arange(1, 11))


def test_crop_mode_refuses_short_audio():
    with pytest.raises(InvalidSampleError, match='clip.wav lasts 0.600 s'):
        FixAudioLength(seconds=1.0, mode='crop')(sample(6))


def test_zero_length_is_an_error_not_a_pad():
    with pytest.raises(InvalidSampleError, match='zero-length .*clip.wav'):
        FixAudioLength(seconds=1.0)(sample(0))


def test_bad_arguments_and_registry():
    with pytest.raises(ValueError, match='mode'):
        FixAudioLength(seconds=1.0, mode='loop')
    with pytest.raises(ValueError, match='crop_position'):
        FixAudioLength(seconds=1.0, crop_position='end')
    with pytest.raises(ValueError, match='seconds'):
        FixAudioLength(seconds=0)
    built = TRANSFORMS.build(dict(type='FixAudioLength', seconds=3,
                                  mode='tile'))
    assert isinstance(built, FixAudioLength) and built.mode == 'tile'
