"""Seeded random streams derived from a tuple of words.

Every seeded per-sample stream of rollingq_mm (the per-sample pipeline seeds
of :class:`~rollingq_mm.utils.SampleSeededPipeline`, the corruption noise of
the robustness transforms, the draws of the AV-Digits preparation) comes
from here: the words (the run's seed, a sample index, a purpose...) go
through NumPy's ``SeedSequence``, which mixes them well, so neighbouring
tuples give independent streams. Strings are hashed stably (CRC-32 of their
UTF-8 bytes), not with Python's salted ``hash``.
"""
import zlib
from typing import Union

import numpy as np

Word = Union[int, str]


def seed_sequence(*words: Word) -> np.random.SeedSequence:
    """The ``SeedSequence`` of a tuple of words.

    Args:
        *words (int | str): Non-negative integers (any size; NumPy integers
            too) and strings (hashed with CRC-32 of their UTF-8 bytes).

    Returns:
        np.random.SeedSequence: ``SeedSequence([w0, w1, ...])``.
    """
    return np.random.SeedSequence([
        zlib.crc32(word.encode()) if isinstance(word, str) else int(word)
        for word in words
    ])


def sample_rng(*words: Word) -> np.random.Generator:
    """A generator seeded by a tuple of words.

    ``sample_rng(seed, sample_idx, key)`` draws the same numbers as
    ``np.random.default_rng([seed, sample_idx, zlib.crc32(key.encode())])``.

    Args:
        *words (int | str): See :func:`seed_sequence`.

    Returns:
        np.random.Generator: A PCG64 generator.
    """
    return np.random.default_rng(seed_sequence(*words))


def sample_seed(*words: Word) -> int:
    """A 64-bit integer seed derived from a tuple of words.

    For generators that take an integer (``random.seed``,
    ``torch.manual_seed``), e.g. ``sample_seed(seed, epoch, index)``.

    Args:
        *words (int | str): See :func:`seed_sequence`.

    Returns:
        int: A seed in ``[0, 2**64)``: the first two 32-bit words of the
        ``SeedSequence`` state, low word first.
    """
    low, high = seed_sequence(*words).generate_state(2, np.uint32)
    return int(low) | int(high) << 32
