"""Input corruption for robustness evaluation: added Gaussian noise.

The paper (RollingQ, Ni et al., ICML 2025, arXiv:2506.11465) reports
Kinetics-Sounds accuracy with Gaussian noise of growing strength on the
inputs; this transform makes such a test set reproducible. The noise of a
sample depends only on ``seed``, the sample's ``sample_idx`` and ``key``, so
every run, worker count and batch order sees the same corrupted data
(:func:`~rollingq_mm.utils.sample_rng` derives its generator).

``key`` is any results key holding an array or a list of equally shaped
arrays: ``'imgs'`` (uint8 frames; noisy values are rounded and clipped to
[0, 255], which bounds the effective noise, and stay uint8), ``'audio'``
(the waveform) or ``'audios'`` (a feature map). Place the transform after
the spatial transforms (crop, resize) so the noise is not resampled.
"""
from typing import Optional, Tuple

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ...utils.sample_random import sample_rng


def _as_array(results: dict, key: str) -> Tuple[np.ndarray, bool]:
    value = results[key]
    if isinstance(value, (list, tuple)):
        shapes = {np.shape(item) for item in value}
        if len(shapes) != 1:
            raise ValueError(f'results[{key!r}] holds arrays of different '
                             f'shapes {sorted(shapes)}; corrupt after they '
                             'are cropped to one size')
        return np.stack(value), True
    return np.asarray(value), False


def _store(results: dict, key: str, values: np.ndarray, dtype: np.dtype,
           was_list: bool) -> None:
    if dtype == np.uint8:
        values = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    else:
        values = values.astype(dtype)
    results[key] = list(values) if was_list else values


def _sample_idx(results: dict, name: str) -> int:
    if 'sample_idx' not in results:
        raise KeyError(f'{name} needs results["sample_idx"] (set by the '
                       'dataset) to make its noise reproducible')
    return int(results['sample_idx'])


@TRANSFORMS.register_module()
class AddGaussianNoise(BaseTransform):
    """Add zero-mean Gaussian noise to one modality of a sample.

    The noise std is ``level`` times the sample's own std of ``key`` (over
    all its values), or times ``std`` when given (e.g. the dataset's std);
    a constant sample with no given ``std`` therefore stays unchanged.

    Args:
        key (str): The results key to corrupt (``'imgs'``, ``'audio'``,
            ``'audios'``).
        level (float): Noise std relative to the modality's std; 0 leaves
            the data untouched.
        seed (int): Seed; with ``sample_idx`` and ``key`` it fixes the noise.
            Defaults to 0.
        std (float, optional): Reference std; None uses the sample's.
            Defaults to None.
    """

    def __init__(self,
                 key: str,
                 level: float,
                 seed: int = 0,
                 std: Optional[float] = None) -> None:
        if level < 0:
            raise ValueError(f'level must be >= 0, got {level}')
        if std is not None and std < 0:
            raise ValueError(f'std must be >= 0, got {std}')
        self.key = key
        self.level = level
        self.seed = seed
        self.std = std

    def transform(self, results: dict) -> dict:
        """Add the noise to one sample.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with ``key`` corrupted.
        """
        sample_idx = _sample_idx(results, self.__class__.__name__)
        if self.level == 0:
            return results
        values, was_list = _as_array(results, self.key)
        reference = float(values.std()) if self.std is None else self.std
        rng = sample_rng(self.seed, sample_idx, self.key)
        noisy = values.astype(np.float64) + rng.normal(
            0.0, self.level * reference, size=values.shape)
        _store(results, self.key, noisy, values.dtype, was_list)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(key={self.key!r}, '
                f'level={self.level}, seed={self.seed}, std={self.std})')
