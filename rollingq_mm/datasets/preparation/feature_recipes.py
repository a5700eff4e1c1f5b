"""Audio feature recipes of the preparation tools, chosen by a short spec.

A spec is ``KIND`` or ``KIND:KEY=VALUE,KEY=VALUE,...``:

- ``fbank``: :class:`~rollingq_mm.datasets.LoadAudio` at the source rate,
  then :class:`~rollingq_mm.datasets.KaldiFbank` (defaults: the
  Kinetics-Sounds recipe, 128 mel bins, 25 / 10 ms frames, 1024 frames,
  normalised). Keys: ``sample_rate`` (of ``LoadAudio``) and every
  ``KaldiFbank`` argument, e.g. ``fbank:num_mel_bins=64``.
- ``log_stft``: ``LoadAudio(sample_rate=22050)``, ``FixAudioLength(seconds=3,
  mode='tile', crop_position='start')``, :class:`~rollingq_mm.datasets.LogSTFT`
  (the CREMA-D recipe, 188 x 257). Keys: ``sample_rate``, ``seconds``
  (``none``: keep the whole clip), ``mode``, ``crop_position`` and every
  ``LogSTFT`` argument, e.g. ``log_stft:sample_rate=16000,hop_length=160``.

Values are parsed as ``none``, ``true`` / ``false``, integers, floats, or
kept as text.
"""
import inspect
from typing import Any, Dict, List

import numpy as np
from mmaction.registry import TRANSFORMS

from ..transforms import FixAudioLength, KaldiFbank, LoadAudio, LogSTFT

_AUDIO_LENGTH_KEYS = ('seconds', 'mode', 'crop_position')
FEATURE_KINDS = {
    'fbank': (KaldiFbank, dict(sample_rate=None), {}),
    'log_stft': (LogSTFT, dict(sample_rate=22050),
                 dict(seconds=3, mode='tile', crop_position='start')),
}
#: The recipe each dataset tool uses for a bare ``--features``.
KINETICS_SOUNDS_RECIPE = 'fbank'
CREMAD_RECIPE = 'log_stft'


def _parse_value(text: str) -> Any:
    lowered = text.lower()
    if lowered == 'none':
        return None
    if lowered in ('true', 'false'):
        return lowered == 'true'
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _arguments(transform: type) -> List[str]:
    params = inspect.signature(transform.__init__).parameters
    return [name for name in params if name not in ('self', 'test_mode')]


def _check_at_rate(pipeline: List[dict], spec: str) -> None:
    """Run the recipe on one second of a tone at its fixed sample rate."""
    rate = pipeline[0]['sample_rate']
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
    results = dict(audio=tone.astype(np.float32), sample_rate=rate,
                   audio_path=f'<a tone at {rate} Hz>')
    try:
        for cfg in pipeline[1:]:
            results = TRANSFORMS.build(cfg)(results)
    except ValueError as err:
        raise ValueError(f'feature recipe {spec!r} fails at its own sample '
                         f'rate: {err}') from None


def parse_feature_recipe(spec: str) -> List[dict]:
    """Turn a recipe spec into the transform configs that write a feature.

    Args:
        spec (str): ``KIND`` or ``KIND:KEY=VALUE,...`` (see the module).

    Returns:
        list[dict]: Transform configs from a sample dict with
        ``audio_path`` to ``audios``, for
        :attr:`~rollingq_mm.datasets.preparation.ClipTask.feature_pipeline`.

    Raises:
        ValueError: For an unknown kind or key, a malformed item, an invalid
            value, or a recipe that cannot run at its fixed sample rate
            (e.g. 128 mel bins at 16 kHz).
    """
    kind, _, items = spec.partition(':')
    if kind not in FEATURE_KINDS:
        raise ValueError(f'unknown feature recipe {kind!r}: choose one of '
                         f'{", ".join(FEATURE_KINDS)}')
    transform, load_args, length_args = FEATURE_KINDS[kind]
    load_args, length_args = dict(load_args), dict(length_args)
    feature_args: Dict[str, Any] = {}
    feature_keys = _arguments(transform)
    for item in filter(None, items.split(',')):
        key, sep, text = item.partition('=')
        if not sep or not key:
            raise ValueError(f'feature recipe {spec!r}: expected KEY=VALUE, '
                             f'got {item!r}')
        value = _parse_value(text)
        if key == 'sample_rate':
            load_args[key] = value
        elif key in _AUDIO_LENGTH_KEYS and kind == 'log_stft':
            length_args[key] = value
        elif key in feature_keys:
            feature_args[key] = value
        else:
            extra = ['sample_rate'] + (list(_AUDIO_LENGTH_KEYS)
                                       if kind == 'log_stft' else [])
            raise ValueError(f'feature recipe {kind!r} has no key {key!r}; '
                             f'keys: {", ".join(extra + feature_keys)}')
    pipeline = [dict(type=LoadAudio.__name__, **load_args)]
    if length_args.get('seconds') is not None:
        pipeline.append(dict(type=FixAudioLength.__name__, **length_args))
    pipeline.append(dict(type=transform.__name__, **feature_args))
    try:
        for cfg in pipeline:
            TRANSFORMS.build(cfg)
    except (TypeError, ValueError) as err:
        raise ValueError(f'feature recipe {spec!r}: {err}') from None
    if load_args['sample_rate'] is not None:
        _check_at_rate(pipeline, spec)
    return pipeline
