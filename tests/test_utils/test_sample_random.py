"""sample_rng / sample_seed: one derivation of seeded per-sample streams.

The pinned numbers below were produced by the three derivations that the
helper replaced (``corruptions.sample_rng``, ``rng_state.sample_seed`` and
``prepare_avdigits.seeded_rng``, at commit 934eef1) before the change: they
are a regression pin, since the AV-Digits data, committed results and noise
probes depend on these exact streams.
"""
import hashlib
import importlib.util
import zlib
from pathlib import Path

import numpy as np
import pytest

from rollingq_mm.utils import sample_rng, sample_seed
from rollingq_mm.utils.sample_random import seed_sequence

SCRIPT = (Path(__file__).resolve().parents[2] / 'tools' / 'data' /
          'avdigits' / 'prepare_avdigits.py')


def first_draws(rng: np.random.Generator) -> list:
    return rng.integers(0, 2**63, 3, dtype=np.int64).tolist()


# (seed, sample_idx, key) -> draws of the former corruptions.sample_rng
CORRUPTION_STREAMS = [
    ((0, 0, 'audios'),
     [1496005438619722912, 5885177533921044167, 7196061475326901593]),
    ((7, 4, 'imgs'),
     [1481503622969147092, 5525081791898004406, 6606930647487809191]),
    ((3, 123456, 'audios/level'),
     [3629082423417515298, 6845764136494907854, 7099252391632284411]),
    ((2**40, 5, 'audio'),
     [4471252231886520586, 630903141315502595, 6628620406884234330]),
]

# (seed, epoch, index) -> the former rng_state.sample_seed
PIPELINE_SEEDS = [
    ((0, 0, 0), 15793235383387715774),
    ((7, 3, 5), 17267582107856879853),
    ((7, 5, 3), 9266463690107369631),
    ((42, 1, 99999), 3833036030689538924),
    ((2**40, 2, 7), 1202072558218397494),
]

# prepare_avdigits.seeded_rng(seed, *keys) -> its draws
AVDIGITS_STREAMS = [
    ((0, 'clip-order', 'train', 3),
     [4566482062440421475, 8375824592049460847, 5418685654816806766]),
    ((0, 'audio', '3_jackson_12'),
     [6336623114337751774, 7278344493395094031, 2516597388334369637]),
    ((0, 'image', '9_yweweler_49'),
     [1421255172159844658, 5211569779912809518, 8039088570267341372]),
    ((5, 'corruption', 'test', 0),
     [4322593594973689579, 3778883116266586207, 7909854444916793147]),
]


@pytest.mark.parametrize('words, draws', CORRUPTION_STREAMS)
def test_corruption_streams_are_unchanged(words, draws):
    assert first_draws(sample_rng(*words)) == draws
    seed, sample_idx, key = words
    legacy = np.random.default_rng(
        [seed, sample_idx, zlib.crc32(key.encode())])
    assert first_draws(legacy) == draws


@pytest.mark.parametrize('words, seed', PIPELINE_SEEDS)
def test_pipeline_seeds_are_unchanged(words, seed):
    assert sample_seed(*words) == seed


@pytest.mark.parametrize('words, draws', AVDIGITS_STREAMS)
def test_avdigits_streams_are_unchanged(words, draws):
    text = '/'.join(str(part) for part in words)
    digest = hashlib.sha256(text.encode('utf-8')).digest()
    assert first_draws(sample_rng(int.from_bytes(digest[:16],
                                                 'little'))) == draws
    spec = importlib.util.spec_from_file_location('prepare_avdigits', SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert first_draws(script.seeded_rng(*words)) == draws


def test_strings_are_hashed_stably_and_numpy_ints_are_words():
    assert first_draws(sample_rng(3, 'imgs')) == first_draws(
        sample_rng(3, zlib.crc32(b'imgs')))
    assert sample_seed(np.int64(7), np.uint32(3), 5) == sample_seed(7, 3, 5)
    assert seed_sequence(1, 'a').entropy == [1, zlib.crc32(b'a')]


def test_every_word_and_its_position_matter():
    seeds = {sample_seed(7, 3, 5), sample_seed(7, 5, 3),
             sample_seed(7, 3, 6), sample_seed(8, 3, 5),
             sample_seed(7, 3, 5, 'audios')}
    assert len(seeds) == 5
    assert first_draws(sample_rng(0, 1, 'imgs')) != first_draws(
        sample_rng(0, 1, 'audios'))


def test_seed_is_64_bits_of_the_sequence_state():
    low, high = seed_sequence(7, 3, 5).generate_state(2, np.uint32)
    assert sample_seed(7, 3, 5) == int(low) + (int(high) << 32)
    assert 0 <= sample_seed(0) < 2**64
