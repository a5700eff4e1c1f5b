"""``KaldiFbank``: Kaldi-compatible log-mel filterbank features."""
from typing import Optional

import kaldi_native_fbank as knf
import numpy as np
from mmaction.registry import TRANSFORMS
from mmcv.transforms import BaseTransform

from ..errors import InvalidSampleError
from .audio_loading import audio_source

#: Axis orders of ``audios``: (1, T, F) or (1, F, T).
AUDIO_LAYOUTS = ('time_freq', 'freq_time')


@TRANSFORMS.register_module()
class KaldiFbank(BaseTransform):
    """Kaldi-style log-mel fbank through kaldi-native-fbank.

    The defaults are the Kinetics-Sounds recipe of RollingQ (Ni et al.,
    ICML 2025, arXiv:2506.11465), which called torchaudio's
    ``compliance.kaldi.fbank(htk_compat=True, use_energy=False,
    window_type='hanning', num_mel_bins=128, dither=0.0, frame_shift=10)`` on
    the mean-subtracted waveform at the wav's own sample rate: every Kaldi
    option is set here explicitly, including those the recipe inherited from
    torchaudio's defaults (pre-emphasis 0.97, DC-offset removal, power
    spectrum, 20 Hz low cut-off, Nyquist high cut-off, FFT length rounded up
    to a power of two, ``snip_edges``). The frames are then zero-padded at
    the end or cut to ``target_frames``, normalised as
    ``(x - norm_mean) / (2 * norm_std)`` and laid out as ``layout`` says:
    time-major (T, F) by default, as mmaction2's ``FormatAudioShape``
    (NCTF) and ``ResNetAudio`` expect, or frequency-major (F, T), mel bins as
    the image height, which is how the recipe fed the spectrogram to its ViT
    (an 8 x 64 grid of 16 x 16 patches for 128 bins x 1024 frames).
    ``FormatAudioShape`` only adds the channel axis, so the tower then reads
    (B, 1, F, T).

    Kaldi refuses a mel bin that no FFT bin falls into. With 128 bins that
    can happen when the 25 ms window fits a 512-point FFT (rates up to
    20.48 kHz), e.g. at 16 kHz, where torchaudio silently returns empty low
    bins; 22.05, 44.1 and 48 kHz work. This transform then raises a
    ``ValueError`` naming the file and rate instead of changing anything:
    keep the source rate (``LoadAudio(sample_rate=None)``; the preparation
    tools store wavs at the source rate, typically 44.1 or 48 kHz) or use
    fewer bins (up to 112 work at 16 kHz).

    Required keys: ``audio`` (float32 (N,)), ``sample_rate``.
    Added keys: ``audios`` (float32 (1, T, F), T = ``target_frames``,
    F = ``num_mel_bins``; (1, F, T) with ``layout='freq_time'``).

    Args:
        num_mel_bins (int): Mel bins. Defaults to 128.
        frame_length_ms (float): Window length. Defaults to 25.0.
        frame_shift_ms (float): Window shift. Defaults to 10.0.
        window_type (str): Kaldi window (``'hanning'``, ``'povey'``,
            ``'hamming'``, ``'rectangular'``, ``'blackman'``). Defaults to
            ``'hanning'``.
        dither (float): Dithering constant. Defaults to 0.0.
        preemph_coeff (float): Pre-emphasis coefficient. Defaults to 0.97.
        remove_dc_offset (bool): Subtract each frame's mean. Defaults to True.
        round_to_power_of_two (bool): Round the FFT size up to a power of
            two. Defaults to True.
        snip_edges (bool): Only frames that fit entirely in the signal.
            Defaults to True.
        low_freq (float): Low cut-off of the mel bins in Hz. Defaults to 20.
        high_freq (float): High cut-off in Hz (<= 0: offset from Nyquist).
            Defaults to 0.0.
        use_energy (bool): Add an energy coefficient. Defaults to False.
        htk_compat (bool): HTK ordering of the energy coefficient (no effect
            without energy). Defaults to True.
        use_log_fbank (bool): Log of the mel energies. Defaults to True.
        use_power (bool): Power rather than magnitude spectrum. Defaults to
            True.
        subtract_mean (bool): Subtract the waveform's mean first. Defaults to
            True.
        target_frames (int, optional): Pad (zeros at the end, before the
            normalisation) or cut to this many frames; None keeps them all.
            Defaults to 1024.
        norm_mean (float, optional): Normalisation mean; None together with
            ``norm_std=None`` skips the normalisation. Defaults to -4.503877.
        norm_std (float, optional): Normalisation std. Defaults to 5.141276.
        layout (str): Axis order of ``audios``: ``'time_freq'`` (1, T, F) or
            ``'freq_time'`` (1, F, T). Defaults to ``'time_freq'``.
    """

    def __init__(self,
                 num_mel_bins: int = 128,
                 frame_length_ms: float = 25.0,
                 frame_shift_ms: float = 10.0,
                 window_type: str = 'hanning',
                 dither: float = 0.0,
                 preemph_coeff: float = 0.97,
                 remove_dc_offset: bool = True,
                 round_to_power_of_two: bool = True,
                 snip_edges: bool = True,
                 low_freq: float = 20.0,
                 high_freq: float = 0.0,
                 use_energy: bool = False,
                 htk_compat: bool = True,
                 use_log_fbank: bool = True,
                 use_power: bool = True,
                 subtract_mean: bool = True,
                 target_frames: Optional[int] = 1024,
                 norm_mean: Optional[float] = -4.503877,
                 norm_std: Optional[float] = 5.141276,
                 layout: str = 'time_freq') -> None:
        if (norm_mean is None) != (norm_std is None):
            raise ValueError('norm_mean and norm_std must both be set or '
                             'both be None')
        if norm_std is not None and norm_std <= 0:
            raise ValueError(f'norm_std must be positive, got {norm_std}')
        if target_frames is not None and target_frames <= 0:
            raise ValueError('target_frames must be positive, got '
                             f'{target_frames}')
        if layout not in AUDIO_LAYOUTS:
            raise ValueError('KaldiFbank: layout must be one of '
                             f'{AUDIO_LAYOUTS}, got {layout!r}')
        self.num_mel_bins = num_mel_bins
        self.frame_length_ms = frame_length_ms
        self.frame_shift_ms = frame_shift_ms
        self.window_type = window_type
        self.dither = dither
        self.preemph_coeff = preemph_coeff
        self.remove_dc_offset = remove_dc_offset
        self.round_to_power_of_two = round_to_power_of_two
        self.snip_edges = snip_edges
        self.low_freq = low_freq
        self.high_freq = high_freq
        self.use_energy = use_energy
        self.htk_compat = htk_compat
        self.use_log_fbank = use_log_fbank
        self.use_power = use_power
        self.subtract_mean = subtract_mean
        self.target_frames = target_frames
        self.norm_mean = norm_mean
        self.norm_std = norm_std
        self.layout = layout

    def fbank_options(self, sample_rate: int) -> knf.FbankOptions:
        """The kaldi-native-fbank options, every field set explicitly.

        Args:
            sample_rate (int): The waveform's rate in Hz.

        Returns:
            knf.FbankOptions: The options.
        """
        opts = knf.FbankOptions()
        frame = opts.frame_opts
        frame.samp_freq = float(sample_rate)
        frame.frame_length_ms = self.frame_length_ms
        frame.frame_shift_ms = self.frame_shift_ms
        frame.dither = self.dither
        frame.preemph_coeff = self.preemph_coeff
        frame.remove_dc_offset = self.remove_dc_offset
        frame.window_type = self.window_type
        frame.round_to_power_of_two = self.round_to_power_of_two
        frame.blackman_coeff = 0.42
        frame.snip_edges = self.snip_edges
        mel = opts.mel_opts
        mel.num_bins = self.num_mel_bins
        mel.low_freq = self.low_freq
        mel.high_freq = self.high_freq
        mel.vtln_low = 100.0
        mel.vtln_high = -500.0
        mel.debug_mel = False
        mel.htk_mode = False
        mel.is_librosa = False
        mel.floor_to_int_bin = False
        opts.use_energy = self.use_energy
        opts.energy_floor = 0.0
        opts.raw_energy = True
        opts.htk_compat = self.htk_compat
        opts.use_log_fbank = self.use_log_fbank
        opts.use_power = self.use_power
        return opts

    def compute(self, waveform: np.ndarray, sample_rate: int,
                source: str) -> np.ndarray:
        """Fbank frames of a waveform, before padding and normalisation.

        Args:
            waveform (np.ndarray): Samples, shape (N,).
            sample_rate (int): Its rate in Hz.
            source (str): The file, for error messages.

        Returns:
            np.ndarray: float32 features, shape (T, F).
        """
        samples = waveform.astype(np.float32)
        if self.subtract_mean:
            samples = samples - samples.mean(dtype=np.float64).astype(
                np.float32)
        try:
            fbank = knf.OnlineFbank(self.fbank_options(sample_rate))
        except ValueError as err:
            raise ValueError(
                f'KaldiFbank: {self.num_mel_bins} mel bins at {sample_rate} '
                f'Hz for {source}: Kaldi refuses it ("{err}"), as some bins '
                'would hold no FFT bin. Keep the source sample rate '
                '(LoadAudio(sample_rate=None); 128 bins work at 22.05, 44.1 '
                'and 48 kHz) or use fewer bins (up to 112 work at 16 kHz).'
            ) from None
        fbank.accept_waveform(float(sample_rate), samples)
        fbank.input_finished()
        num_frames = fbank.num_frames_ready
        if num_frames == 0:
            raise InvalidSampleError(
                f'audio of {source} ({samples.size} samples at {sample_rate} '
                f'Hz) is shorter than one {self.frame_length_ms} ms frame')
        return np.stack([fbank.get_frame(i) for i in range(num_frames)]
                        ).astype(np.float32)

    def transform(self, results: dict) -> dict:
        """Compute the fbank of one waveform.

        Args:
            results (dict): The pipeline results.

        Returns:
            dict: ``results`` with ``audios`` (1, T, F), or (1, F, T) with
            ``layout='freq_time'``.
        """
        features = self.compute(results['audio'], results['sample_rate'],
                                audio_source(results, required=False))
        if self.target_frames is not None:
            missing = self.target_frames - features.shape[0]
            if missing > 0:
                features = np.pad(features, ((0, missing), (0, 0)))
            else:
                features = features[:self.target_frames]
        if self.norm_mean is not None:
            features = (features - self.norm_mean) / (2 * self.norm_std)
        if self.layout == 'freq_time':
            features = features.T
        results['audios'] = np.ascontiguousarray(features[None],
                                                 dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_mel_bins={self.num_mel_bins}, '
                f'frame_length_ms={self.frame_length_ms}, '
                f'frame_shift_ms={self.frame_shift_ms}, '
                f'window_type={self.window_type!r}, '
                f'target_frames={self.target_frames}, '
                f'norm_mean={self.norm_mean}, norm_std={self.norm_std}, '
                f'layout={self.layout!r})')
