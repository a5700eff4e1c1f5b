"""``LogSTFT``: log-magnitude STFT (the CREMA-D spectrogram recipe)."""
from typing import Optional

import numpy as np
import torch
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform
from scipy.signal import get_window

_PAD_MODES = ('constant', 'reflect')


@TRANSFORMS.register_module()
class LogSTFT(BaseTransform):
    """Log-magnitude short-time Fourier transform, ``log(|S| + eps)``.

    The defaults are the CREMA-D recipe of RollingQ (Ni et al., ICML 2025,
    arXiv:2506.11465): the waveform at 22,050 Hz, tiled and cut to 3 s,
    clipped to [-1, 1], ``librosa.stft(n_fft=512, hop_length=353)`` and
    ``log(|S| + 1e-7)``, giving 257 frequency bins x 188 frames. The STFT
    follows librosa's conventions: a periodic window of ``win_length``
    (default ``n_fft``) samples from :func:`scipy.signal.get_window`,
    centred frames (``n_fft // 2`` samples of padding on each side, zeros
    as in librosa >= 0.10, or ``'reflect'`` as in older releases), no
    normalisation, so frame ``t`` is centred on sample ``t * hop_length``
    and ``T = 1 + N // hop_length``. Computed in float64, stored as float32.

    Required keys: ``audio`` (float32 (N,)).
    Added keys: ``audios`` (float32 (1, T, F), F = ``n_fft // 2 + 1``).

    Args:
        n_fft (int): FFT length. Defaults to 512.
        hop_length (int): Frame step in samples. Defaults to 353.
        win_length (int, optional): Window length (zero-padded to
            ``n_fft`` in the middle); None means ``n_fft``. Defaults to None.
        window (str): A :func:`scipy.signal.get_window` name. Defaults to
            ``'hann'``.
        center (bool): Centre the frames (pad ``n_fft // 2`` each side).
            Defaults to True.
        pad_mode (str): ``'constant'`` (zeros) or ``'reflect'``. Defaults
            to ``'constant'``.
        eps (float): Added before the log. Defaults to 1e-7.
        clip_waveform (bool): Clip samples to [-1, 1] first. Defaults to
            True.
    """

    def __init__(self,
                 n_fft: int = 512,
                 hop_length: int = 353,
                 win_length: Optional[int] = None,
                 window: str = 'hann',
                 center: bool = True,
                 pad_mode: str = 'constant',
                 eps: float = 1e-7,
                 clip_waveform: bool = True) -> None:
        win_length = n_fft if win_length is None else win_length
        if not 0 < win_length <= n_fft:
            raise ValueError(f'win_length must be in (0, n_fft={n_fft}], '
                             f'got {win_length}')
        if hop_length <= 0:
            raise ValueError(f'hop_length must be positive, got {hop_length}')
        if pad_mode not in _PAD_MODES:
            raise ValueError(f'pad_mode must be one of {_PAD_MODES}, got '
                             f'{pad_mode!r}')
        if eps <= 0:
            raise ValueError(f'eps must be positive, got {eps}')
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.win_length = win_length
        self.window = window
        self.center = center
        self.pad_mode = pad_mode
        self.eps = eps
        self.clip_waveform = clip_waveform
        self._window = torch.from_numpy(
            get_window(window, win_length, fftbins=True).astype(np.float64))

    def transform(self, results: dict) -> dict:
        """Compute the log-magnitude STFT of one waveform.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with ``audios`` (1, T, F).
        """
        samples = np.asarray(results['audio'], dtype=np.float64)
        if self.clip_waveform:
            samples = np.clip(samples, -1.0, 1.0)
        spectrum = torch.stft(
            torch.from_numpy(samples),
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            win_length=self.win_length,
            window=self._window,
            center=self.center,
            pad_mode=self.pad_mode,
            normalized=False,
            onesided=True,
            return_complex=True)
        log_magnitude = torch.log(spectrum.abs() + self.eps)
        results['audios'] = log_magnitude.T.numpy()[None].astype(np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(n_fft={self.n_fft}, '
                f'hop_length={self.hop_length}, '
                f'win_length={self.win_length}, window={self.window!r}, '
                f'center={self.center}, pad_mode={self.pad_mode!r}, '
                f'eps={self.eps}, clip_waveform={self.clip_waveform})')
