"""Check that a config's separately built parts agree, before a Runner is
built.

``tools/train.py`` and ``tools/test.py`` call :func:`validate_config` after
the command-line overrides. It makes only the checks that no single
component can make, because each side is built by a different one
(pipeline ``collect_keys`` and data preprocessor <-> the modalities' input
keys, evaluators <-> model modalities, encoder <-> tokenizer <-> head widths,
``num_classes`` <-> the datasets' class lists, ``AIRHook`` <-> the fusion
head), so a mismatch fails at once with a message naming the config keys
instead of deep in the first iteration or not at all. What one constructor
can check (hook arguments, the head's modality order and ``fusion_dim``) it
checks itself when the Runner builds it.
"""
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from mmaction.registry import MODELS
from mmengine.config import Config

from rollingq_mm.datasets.class_names import resolve_classes

_SPLITS = dict(train=('train', 'val'), test=('test', ))


class ConfigValidationError(ValueError):
    """Parts of a config disagree; the message names the keys."""


def _type_name(cfg: dict) -> str:
    """The ``type`` of a component config as a name ('' when absent)."""
    kind = cfg.get('type', '') if isinstance(cfg, dict) else ''
    return kind if isinstance(kind, str) else getattr(kind, '__name__', '')


def _short_name(kind: str) -> str:
    """``'mmpretrain.VisionTransformer'`` -> ``'VisionTransformer'``."""
    return kind.rsplit('.', 1)[-1]


def _datasets(dataset: dict, key: str) -> Iterator[Tuple[str, dict]]:
    """A dataset config and the datasets it wraps, with their keys."""
    if not isinstance(dataset, dict):
        return
    yield key, dataset
    if isinstance(dataset.get('dataset'), dict):
        yield from _datasets(dataset['dataset'], f'{key}.dataset')
    for index, child in enumerate(dataset.get('datasets') or []):
        yield from _datasets(child, f'{key}.datasets[{index}]')


def _loaders(cfg: Config, mode: str) -> Iterator[Tuple[str, dict]]:
    """The dataloader configs ``mode`` uses, with their keys."""
    for split in _SPLITS[mode]:
        loader = cfg.get(f'{split}_dataloader')
        if split == 'val' and cfg.get('val_cfg') is None:
            continue
        if isinstance(loader, dict) and isinstance(loader.get('dataset'),
                                                   dict):
            yield f'{split}_dataloader.dataset', loader['dataset']


def _check_input_keys(cfg: Config, modalities: dict, mode: str) -> None:
    """Pipeline collect_keys, preprocessors and input keys name the same."""
    input_keys = {
        name: spec.get('input_key') for name, spec in modalities.items()
    }
    expected = set(input_keys.values())
    listed = ', '.join(f'model.modalities.{name}.input_key={key!r}'
                       for name, key in input_keys.items())
    preprocessor = cfg.model.get('data_preprocessor') or {}
    preprocessors = preprocessor.get('preprocessors')
    if isinstance(preprocessors, dict) and set(preprocessors) != expected:
        raise ConfigValidationError(
            'model.data_preprocessor.preprocessors has keys '
            f'{sorted(preprocessors)}, but {listed}: they must name the same '
            'input keys.')
    for loader_key, dataset in _loaders(cfg, mode):
        for key, part in _datasets(dataset, loader_key):
            for index, step in enumerate(part.get('pipeline') or []):
                if _type_name(step) != 'PackActionInputs':
                    continue
                collect = set(step.get('collect_keys') or ())
                if collect != expected:
                    raise ConfigValidationError(
                        f'{key}.pipeline[{index}].collect_keys='
                        f'{sorted(collect)}, but {listed}: PackActionInputs '
                        'must collect exactly the input keys of the '
                        'modalities.')


def _check_metric_modalities(cfg: Config, names: List[str]) -> None:
    """The evaluators list the model's modalities, in its order."""
    for key in ('val_evaluator', 'test_evaluator'):
        evaluators = cfg.get(key)
        if isinstance(evaluators, dict):
            evaluators = [evaluators]
        for index, metric in enumerate(evaluators or []):
            listed = metric.get('modalities') if isinstance(metric,
                                                            dict) else None
            if listed is not None and list(listed) != names:
                raise ConfigValidationError(
                    f'{key}[{index}].modalities={list(listed)} differs from '
                    f'model.modalities {names}.')


def _encoder_width(backbone: dict) -> Optional[int]:
    """Output width of a backbone config whose arch states it, else None."""
    arch = backbone.get('arch')
    if isinstance(arch, dict):
        return arch.get('embed_dims')
    if isinstance(arch, str) and _type_name(backbone):
        backbone_cls = MODELS.get(_type_name(backbone))
        zoo = getattr(backbone_cls, 'arch_zoo', None) or {}
        return (zoo.get(arch.lower()) or {}).get('embed_dims')
    return None


def _check_widths(cfg: Config, modalities: dict) -> None:
    """Encoder -> tokenizer -> fusion head widths agree (the head checks
    its own ``fusion_dim``)."""
    widths: Dict[str, int] = {}
    for name, spec in modalities.items():
        tokenizer = spec.get('tokenizer') or {}
        in_channels = tokenizer.get('in_channels')
        encoder = _encoder_width(spec.get('backbone') or {})
        if encoder is not None and in_channels is not None and \
                encoder != in_channels:
            raise ConfigValidationError(
                f'model.modalities.{name}.tokenizer.in_channels={in_channels}'
                f', but the encoder model.modalities.{name}.backbone outputs '
                f'{encoder} channels (arch embed_dims).')
        out = tokenizer.get('out_channels') or in_channels
        if out is not None:
            widths[name] = out
    head = cfg.model.fusion_head
    head_channels = head.get('in_channels')
    if isinstance(head_channels, int):
        head_channels = {name: head_channels for name in modalities}
    if isinstance(head_channels, dict):
        for name, width in widths.items():
            if name in head_channels and head_channels[name] != width:
                raise ConfigValidationError(
                    f'model.fusion_head.in_channels[{name!r}]='
                    f'{head_channels[name]}, but the tokenizer '
                    f'model.modalities.{name}.tokenizer gives {width}-wide '
                    'tokens.')


def _class_count(dataset: dict, key: str) -> Optional[Tuple[int, str]]:
    """Number of classes a dataset config states, and where it says so."""
    classes = (dataset.get('metainfo') or {}).get('classes')
    if classes is not None:
        try:
            names = resolve_classes(classes)
        except (OSError, ValueError) as error:
            raise ConfigValidationError(
                f'{key}.metainfo.classes: {error}') from error
        shown = classes if isinstance(classes, (str, Path)) else 'the list'
        return len(names), f'{key}.metainfo.classes ({shown})'
    if dataset.get('num_classes') is not None:
        return dataset['num_classes'], f'{key}.num_classes'
    return None


def _check_classes(cfg: Config, mode: str) -> None:
    """The head's num_classes equals every class list the data states."""
    num_classes = cfg.model.fusion_head.get('num_classes')
    if num_classes is None:
        return
    for loader_key, dataset in _loaders(cfg, mode):
        for key, part in _datasets(dataset, loader_key):
            stated = _class_count(part, key)
            if stated is not None and stated[0] != num_classes:
                raise ConfigValidationError(
                    f'model.fusion_head.num_classes={num_classes}, but '
                    f'{stated[1]} has {stated[0]} classes.')


def _hook_configs(cfg: Config) -> Iterator[Tuple[str, dict]]:
    """Every hook config of ``default_hooks`` and ``custom_hooks``."""
    for name, hook in (cfg.get('default_hooks') or {}).items():
        if isinstance(hook, dict):
            yield f'default_hooks.{name}', hook
    for index, hook in enumerate(cfg.get('custom_hooks') or []):
        if isinstance(hook, dict):
            yield f'custom_hooks[{index}]', hook


def _check_air_hook(cfg: Config) -> None:
    """An ``AIRHook`` comes with a ``RollingQFusionHead`` to rotate."""
    head = (cfg.get('model') or {}).get('fusion_head')
    if not isinstance(head, dict):
        return
    rollingq_head = MODELS.get('RollingQFusionHead')
    head_cls = MODELS.get(_type_name(head)) if _type_name(head) else None
    if isinstance(head_cls, type) and issubclass(head_cls, rollingq_head):
        return
    for key, hook in _hook_configs(cfg):
        if _short_name(_type_name(hook)) == 'AIRHook':
            raise ConfigValidationError(
                f'{key} is an AIRHook, but model.fusion_head.type='
                f'{_type_name(head)!r} is not a RollingQFusionHead: the hook '
                'has no query to measure or rotate. Remove it (the concat '
                'and unimodal baselines need none) or use '
                "type='RollingQFusionHead'.")


def validate_config(cfg: Config, mode: str = 'train') -> None:
    """Raise if parts of ``cfg`` disagree, naming the keys involved.

    Checks, for an ``AudioVisualRecognizer`` model: that the pipelines'
    ``PackActionInputs.collect_keys``, the data preprocessor's
    ``preprocessors`` and the modalities' ``input_key`` name the same keys;
    that the evaluators list the model's modalities; that encoder,
    tokenizer and head widths agree; that ``num_classes`` equals each
    dataset's class list. For every config: that an ``AIRHook`` comes with
    a ``RollingQFusionHead``.

    Args:
        cfg (Config): The config, command-line overrides applied.
        mode (str): ``'train'`` checks the train and val dataloaders,
            ``'test'`` the test dataloader. Defaults to 'train'.

    Raises:
        ConfigValidationError: The first disagreement found.
    """
    if mode not in _SPLITS:
        raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
    _check_air_hook(cfg)
    model = cfg.get('model') or {}
    if _short_name(_type_name(model)) != 'AudioVisualRecognizer':
        return
    modalities = model.get('modalities') or {}
    if not isinstance(modalities, dict) or not isinstance(
            model.get('fusion_head'), dict):
        return
    _check_metric_modalities(cfg, list(modalities))
    _check_input_keys(cfg, modalities, mode)
    _check_widths(cfg, modalities)
    _check_classes(cfg, mode)
