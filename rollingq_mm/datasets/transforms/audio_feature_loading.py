"""``LoadPrecomputedAudioFeature``: strict loading of ``.npy`` features."""
import os.path as osp

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..errors import InvalidSampleError
from .kaldi_fbank import AUDIO_LAYOUTS

_LAYOUTS = ('TF', 'FT')


@TRANSFORMS.register_module()
class LoadPrecomputedAudioFeature(BaseTransform):
    """Load a pre-computed audio feature (fbank, spectrogram) from ``.npy``.

    Unlike mmaction2's ``LoadAudioFeature``, which substitutes zeros (or
    random values) for a missing file, this raises
    :class:`~rollingq_mm.datasets.InvalidSampleError` naming the file for a
    missing or unreadable file, a shape other than (T, F) / (1, T, F), an
    empty array and NaN/Inf values.

    Required keys: ``audio_path``.
    Added keys: ``audios`` (float32 (1, T, F), or (1, F, T) with
    ``output_layout='freq_time'``), ``length`` (T).

    Args:
        layout (str): Axis order stored in the file: ``'TF'`` (time frames
            first, as the preparation tools write) or ``'FT'`` (frequency
            first, e.g. OGM-GE's 257 x 188 CREMA-D spectrograms); ``'FT'``
            is transposed. Defaults to ``'TF'``.
        output_layout (str): Axis order of ``audios``, as
            :class:`KaldiFbank`'s ``layout``: ``'time_freq'`` or
            ``'freq_time'`` (the Kinetics-Sounds ViT configs' frequency-major
            input). Defaults to ``'time_freq'``.
    """

    def __init__(self, layout: str = 'TF',
                 output_layout: str = 'time_freq') -> None:
        if layout not in _LAYOUTS:
            raise ValueError(f'layout must be one of {_LAYOUTS}, got '
                             f'{layout!r}')
        if output_layout not in AUDIO_LAYOUTS:
            raise ValueError(
                'LoadPrecomputedAudioFeature: output_layout must be one of '
                f'{AUDIO_LAYOUTS}, got {output_layout!r}')
        self.layout = layout
        self.output_layout = output_layout

    def transform(self, results: dict) -> dict:
        """Load one feature file.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with ``audios`` and ``length``.
        """
        path = results.get('audio_path')
        if path is None:
            raise KeyError('LoadPrecomputedAudioFeature needs '
                           "results['audio_path'] (a .npy file)")
        if not osp.isfile(path):
            raise InvalidSampleError(f'audio feature file not found: {path}')
        try:
            feature = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as err:
            raise InvalidSampleError(
                f'cannot read audio feature file {path}: {err}') from None
        if feature.ndim == 3 and feature.shape[0] == 1:
            feature = feature[0]
        if feature.ndim != 2:
            raise InvalidSampleError(
                f'audio feature {path} has shape {feature.shape}, expected '
                f'({self.layout[0]}, {self.layout[1]}) or (1, '
                f'{self.layout[0]}, {self.layout[1]})')
        if feature.size == 0:
            raise InvalidSampleError(
                f'audio feature {path} is empty: shape {feature.shape}')
        if not np.issubdtype(feature.dtype, np.number):
            raise InvalidSampleError(
                f'audio feature {path} has non-numeric dtype {feature.dtype}')
        if not np.all(np.isfinite(feature)):
            bad = int(np.count_nonzero(~np.isfinite(feature)))
            raise InvalidSampleError(
                f'audio feature {path} holds {bad} NaN/Inf values')
        if self.layout == 'FT':
            feature = feature.T
        results['length'] = feature.shape[0]
        if self.output_layout == 'freq_time':
            feature = feature.T
        results['audios'] = np.ascontiguousarray(feature[None],
                                                 dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(layout={self.layout!r}, '
                f'output_layout={self.output_layout!r})')
