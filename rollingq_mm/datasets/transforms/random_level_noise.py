"""Gaussian noise of a per-sample random strength, with the strength recorded.

The correlation test of RollingQ (Ni et al., ICML 2025, arXiv:2506.11465)
asks whether the fusion's attention on a modality follows that modality's
quality sample by sample. That needs samples of many qualities, each with a
known quality: this transform draws the noise level of every sample from a
seeded uniform range, adds the noise as :class:`AddGaussianNoise` does, and
stores the level in the results so it travels with the sample.
"""
from typing import Optional

from mmcv.transforms import BaseTransform
from mmaction.registry import TRANSFORMS

from ...keys import NOISE_LEVEL_KEY
from ...utils.sample_random import sample_rng
from .corruptions import AddGaussianNoise, _sample_idx


@TRANSFORMS.register_module()
class AddRandomLevelNoise(BaseTransform):
    """Add Gaussian noise whose level is drawn per sample, and record it.

    The level of a sample is uniform in ``[min_level, max_level]``, drawn
    from a generator fixed by ``seed``, the sample's ``sample_idx`` and
    ``key`` (independent of the generator of the noise itself); the noise
    is then exactly that of ``AddGaussianNoise(key, level, seed, std)``.
    The drawn level is stored as ``results[level_key][key]`` (a dict, so
    several modalities can be corrupted and recorded in one pipeline); add
    ``level_key`` to ``PackActionInputs(meta_keys=...)`` to keep it in the
    data sample's metainfo.

    Args:
        key (str): The results key to corrupt (``'imgs'``, ``'audio'``,
            ``'audios'``).
        max_level (float): Upper end of the level range (noise std relative
            to the modality's std), > ``min_level``.
        min_level (float): Lower end of the level range, >= 0.
            Defaults to 0.0.
        seed (int): Seed of the levels and of the noise. Defaults to 0.
        std (float, optional): Reference std; None uses the sample's.
            Defaults to None.
        level_key (str): Results key of the recorded levels.
            Defaults to 'noise_level'.
    """

    def __init__(self,
                 key: str,
                 max_level: float,
                 min_level: float = 0.0,
                 seed: int = 0,
                 std: Optional[float] = None,
                 level_key: str = NOISE_LEVEL_KEY) -> None:
        if min_level < 0:
            raise ValueError(f'min_level must be >= 0, got {min_level}')
        if max_level <= min_level:
            raise ValueError(f'max_level must be > min_level={min_level}, '
                             f'got {max_level}')
        if std is not None and std < 0:
            raise ValueError(f'std must be >= 0, got {std}')
        self.key = key
        self.max_level = max_level
        self.min_level = min_level
        self.seed = seed
        self.std = std
        self.level_key = level_key

    def draw_level(self, sample_idx: int) -> float:
        """The noise level of one sample.

        Args:
            sample_idx (int): The sample's index in its dataset.

        Returns:
            float: A level in ``[min_level, max_level]``.
        """
        rng = sample_rng(self.seed, sample_idx, f'{self.key}/level')
        return float(rng.uniform(self.min_level, self.max_level))

    def transform(self, results: dict) -> dict:
        """Corrupt one sample at its drawn level and record the level.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with ``key`` corrupted and
            ``results[level_key][key]`` set.
        """
        level = self.draw_level(_sample_idx(results, type(self).__name__))
        results = AddGaussianNoise(
            self.key, level, seed=self.seed, std=self.std).transform(results)
        levels = dict(results.get(self.level_key) or {})
        levels[self.key] = level
        results[self.level_key] = levels
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, '
                f'max_level={self.max_level}, min_level={self.min_level}, '
                f'seed={self.seed}, std={self.std}, '
                f'level_key={self.level_key!r})')
