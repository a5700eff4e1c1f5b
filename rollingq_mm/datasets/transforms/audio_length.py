"""``FixAudioLength``: bring a waveform to a fixed duration."""
import math

import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..errors import InvalidSampleError
from .audio_loading import audio_source

_MODES = ('pad', 'tile', 'crop')
_POSITIONS = ('auto', 'random', 'center', 'start')


@TRANSFORMS.register_module()
class FixAudioLength(BaseTransform):
    """Pad, tile or crop ``audio`` to ``seconds`` of samples.

    A waveform longer than the target is cut to it; the window starts at a
    random sample in training and is centred in testing
    (``crop_position='auto'``), or is fixed by ``crop_position``. A shorter
    waveform is handled by ``mode``:

    - ``'pad'``: zeros appended on the right only.
    - ``'tile'``: the whole waveform repeated until it is long enough, then
      cut (the CREMA-D recipe: ``np.tile`` then the first 3 s, i.e.
      ``mode='tile', crop_position='start'``).
    - ``'crop'``: not allowed: raises
      :class:`~rollingq_mm.datasets.InvalidSampleError` naming the file.

    Required keys: ``audio``, ``sample_rate``. Modified keys: ``audio``.

    Args:
        seconds (float): The target duration.
        mode (str): ``'pad'``, ``'tile'`` or ``'crop'``. Defaults to
            ``'pad'``.
        crop_position (str): Where a longer waveform is cut: ``'auto'``
            (random if training, centre if ``test_mode``), ``'random'``,
            ``'center'`` or ``'start'``. Defaults to ``'auto'``.
        test_mode (bool): Whether the pipeline is for testing. Defaults to
            False.
    """

    def __init__(self,
                 seconds: float,
                 mode: str = 'pad',
                 crop_position: str = 'auto',
                 test_mode: bool = False) -> None:
        if seconds <= 0:
            raise ValueError(f'seconds must be positive, got {seconds}')
        if mode not in _MODES:
            raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
        if crop_position not in _POSITIONS:
            raise ValueError(f'crop_position must be one of {_POSITIONS}, '
                             f'got {crop_position!r}')
        self.seconds = seconds
        self.mode = mode
        self.crop_position = crop_position
        self.test_mode = test_mode

    def _crop_start(self, excess: int) -> int:
        """First sample of the kept window, ``excess`` samples too many."""
        position = self.crop_position
        if position == 'auto':
            position = 'center' if self.test_mode else 'random'
        if position == 'random':
            return int(np.random.randint(0, excess + 1))
        if position == 'center':
            return excess // 2
        return 0

    def transform(self, results: dict) -> dict:
        """Fix the length of one waveform.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with ``audio`` of exactly
            ``round(seconds * sample_rate)`` samples.
        """
        waveform = results['audio']
        target = int(round(self.seconds * results['sample_rate']))
        length = waveform.shape[0]
        source = audio_source(results, required=False)
        if length == 0:
            raise InvalidSampleError(f'zero-length audio in {source}')
        if length < target:
            if self.mode == 'pad':
                waveform = np.pad(waveform, (0, target - length))
            elif self.mode == 'tile':
                waveform = np.tile(waveform, math.ceil(target / length))
            else:
                raise InvalidSampleError(
                    f'audio of {source} lasts '
                    f'{length / results["sample_rate"]:.3f} s, shorter than '
                    f'the {self.seconds} s FixAudioLength(mode="crop") needs')
        if waveform.shape[0] > target:
            start = self._crop_start(waveform.shape[0] - target)
            waveform = waveform[start:start + target]
        results['audio'] = np.ascontiguousarray(waveform, dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(seconds={self.seconds}, '
                f'mode={self.mode!r}, crop_position={self.crop_position!r}, '
                f'test_mode={self.test_mode})')
