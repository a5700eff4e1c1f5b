"""Measure a config's normalisation constants on its training data.

Builds ``train_dataloader.dataset`` of the config with its real training
pipeline, the normalisation switched off (``KaldiFbank``'s ``norm_mean`` /
``norm_std``; the model's data preprocessor is not run), and measures the
mean and std of every packed input (``imgs``: per channel, 0-255 pixels;
``audios``: the feature values) over the training clips or an evenly spaced
subset of them. Prints the config lines and the ``--cfg-options`` that set
the constants where the config applies them: ``KaldiFbank`` in each
dataloader's pipeline for an fbank, else
``model.data_preprocessor.preprocessors.<input>``. When they matter:
docs/configs.md.

Example:
    python tools/data/compute_norm_stats.py configs/rollingq_avdigits.py
    python tools/data/compute_norm_stats.py configs/my_clips.py \
        --num-samples 500
"""
import argparse
import copy
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import init_default_scope

import rollingq_mm  # noqa: F401  (registration)

#: The pipeline step that normalises a feature itself, and its arguments.
FEATURE_NORM = ('KaldiFbank', 'norm_mean', 'norm_std')
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Measure the normalisation constants of a config on its '
        'training split and print the config lines that set them')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--num-samples', type=int, default=None,
        help='measure this many training clips, evenly spaced over the '
        'split (default: all)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the training augmentation')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. '
        'train_dataloader.dataset.ann_file=data/my_clips/train.txt')
    return parser.parse_args(argv)


def unnormalised_dataset(cfg: Config):
    """``train_dataloader.dataset`` of ``cfg``, built with the training
    pipeline's feature normalisation switched off."""
    loader = cfg.get('train_dataloader')
    if not loader or not loader.get('dataset'):
        raise ValueError(f'{cfg.filename} has no train_dataloader.dataset '
                         'to measure')
    dataset_cfg = copy.deepcopy(loader.dataset)
    kind, mean_key, std_key = FEATURE_NORM
    for step in dataset_cfg.get('pipeline', []):
        if step.get('type') == kind:
            step[mean_key] = step[std_key] = None
    from mmaction.registry import DATASETS
    return DATASETS.build(dataset_cfg)


def sample_indices(size: int, num_samples: Optional[int]) -> List[int]:
    """All of ``range(size)``, or ``num_samples`` evenly spaced indices."""
    if num_samples is None or num_samples >= size:
        return list(range(size))
    if num_samples < 1:
        raise ValueError(f'--num-samples must be >= 1, got {num_samples}')
    return sorted(set(np.linspace(0, size - 1, num_samples).round()
                      .astype(int).tolist()))


def measure_norm_stats(dataset, indices: List[int],
                       seed: int = 0) -> Dict[str, dict]:
    """Per-channel mean and std of each packed input over ``indices``.

    The channel axis is the one after the clip axis of each sample's
    tensor: ``(N, C, T, H, W)`` / ``(N, C, H, W)`` images, ``(N, 1, T, F)``
    audio. The std is the population std (ddof 0) over every value.

    Args:
        dataset: A dataset whose pipeline ends with ``PackActionInputs``
            collecting its inputs into a dict (``collect_keys``).
        indices (list[int]): The samples to measure.
        seed (int): Seed of ``random``, NumPy and torch for the pipeline's
            augmentation. Defaults to 0.

    Returns:
        dict: ``{input key: dict(mean=[...], std=[...], count=int)}``, one
        value per channel.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    sums: Dict[str, np.ndarray] = {}
    squares: Dict[str, np.ndarray] = {}
    counts: Dict[str, int] = {}
    for index in indices:
        inputs = dataset[index]['inputs']
        if not isinstance(inputs, dict):
            raise ValueError(
                'the training pipeline packs its inputs as one tensor: '
                "measure a pipeline whose PackActionInputs has collect_keys "
                "(e.g. collect_keys=('imgs', 'audios'))")
        for key, value in inputs.items():
            values = torch.as_tensor(value).double().movedim(1, 0)
            values = values.reshape(values.shape[0], -1).numpy()
            sums[key] = sums.get(key, 0.0) + values.sum(axis=1)
            squares[key] = squares.get(key, 0.0) + np.square(values).sum(
                axis=1)
            counts[key] = counts.get(key, 0) + values.shape[1]
    stats = {}
    for key, total in sums.items():
        mean = total / counts[key]
        var = np.maximum(squares[key] / counts[key] - np.square(mean), 0.0)
        stats[key] = dict(mean=mean.tolist(), std=np.sqrt(var).tolist(),
                          count=counts[key])
    return stats


def feature_norm_steps(cfg: Config) -> Dict[str, int]:
    """``{loader: index}`` of the normalising feature step in each
    dataloader's pipeline."""
    steps = {}
    for loader in LOADERS:
        pipeline = ((cfg.get(loader) or {}).get('dataset') or {}).get(
            'pipeline') or []
        for index, step in enumerate(pipeline):
            if step.get('type') == FEATURE_NORM[0]:
                steps[loader] = index
    return steps


def _number(value: float) -> str:
    return f'{value:.6g}'


def _numbers(values: List[float]) -> str:
    return '[' + ', '.join(_number(v) for v in values) + ']'


def config_lines(cfg: Config, stats: Dict[str, dict]) -> tuple:
    """The config lines and ``--cfg-options`` that set ``stats``.

    The fbank constants go to the normalising feature step of each
    dataloader's pipeline when the training pipeline has one (it takes one
    mean and std); every other input's to its data preprocessor.

    Returns:
        tuple[list[str], list[str]]: Config lines, ``--cfg-options`` items.
    """
    lines, options = [], []
    steps = feature_norm_steps(cfg)
    kind, mean_key, std_key = FEATURE_NORM
    preprocessors = (((cfg.get('model') or {}).get('data_preprocessor')
                      or {}).get('preprocessors') or {})
    for key, stat in stats.items():
        if key == 'audios' and 'train_dataloader' in steps:
            if len(stat['mean']) != 1:
                raise ValueError(f'{kind} takes one {mean_key}, but '
                                 f'{key} has {len(stat["mean"])} channels')
            mean, std = _number(stat['mean'][0]), _number(stat['std'][0])
            lines.append(f'# in the {kind} step of every pipeline:')
            lines.append(f'{mean_key}={mean}, {std_key}={std}')
            for loader, index in steps.items():
                prefix = f'{loader}.dataset.pipeline.{index}'
                options += [f'{prefix}.{mean_key}={mean}',
                            f'{prefix}.{std_key}={std}']
            continue
        if key not in preprocessors:
            raise ValueError(
                f'{cfg.filename} has no model.data_preprocessor.'
                f'preprocessors.{key} to normalise {key!r} with')
        mean, std = _numbers(stat['mean']), _numbers(stat['std'])
        lines.append(f'model = dict(data_preprocessor=dict(preprocessors='
                     f'dict({key}=dict(mean={mean}, std={std}))))')
        prefix = f'model.data_preprocessor.preprocessors.{key}'
        options += [f'{prefix}.mean={mean.replace(" ", "")}',
                    f'{prefix}.std={std.replace(" ", "")}']
    return lines, options


def current_constants(cfg: Config, key: str) -> Optional[str]:
    """The constants ``cfg`` applies to ``key`` now, as text, or None."""
    kind, mean_key, std_key = FEATURE_NORM
    if key == 'audios':
        pipeline = cfg.train_dataloader.dataset.get('pipeline', [])
        for step in pipeline:
            if step.get('type') == kind and step.get(mean_key) is not None:
                return (f'{kind} {mean_key}={step[mean_key]}, '
                        f'{std_key}={step[std_key]}')
    preprocessor = ((cfg.get('model') or {}).get('data_preprocessor')
                    or {}).get('preprocessors', {}).get(key) or {}
    if preprocessor.get('mean') is not None:
        return f'mean={preprocessor["mean"]}, std={preprocessor["std"]}'
    return None


def main(argv: Optional[List[str]] = None) -> Dict[str, dict]:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset = unnormalised_dataset(cfg)
    try:
        indices = sample_indices(len(dataset), args.num_samples)
    except ValueError as error:
        raise SystemExit(str(error))
    stats = measure_norm_stats(dataset, indices, seed=args.seed)
    lines, options = config_lines(cfg, stats)
    report = [f'{args.config}: {len(indices)} of {len(dataset)} training '
              'clips (train_dataloader.dataset), pipeline without its '
              'normalisation']
    for key, stat in stats.items():
        now = current_constants(cfg, key)
        report.append(f'{key}: mean {_numbers(stat["mean"])}, std '
                      f'{_numbers(stat["std"])} over {stat["count"]} values '
                      'per channel; the config applies '
                      f'{now or "no normalisation"}')
    report += ['', 'Config lines:', *lines, '', '--cfg-options:',
               ' '.join(options)]
    print_log('\n'.join(report), logger='current')
    return stats


if __name__ == '__main__':
    main()
