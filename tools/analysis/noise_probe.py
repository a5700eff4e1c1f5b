"""Noise probe: accuracy and fusion attention of a trained model under noise.

Evaluates CHECKPOINT on the config's test split once clean, then with
Gaussian noise of each level on each modality, then with a per-sample
random level on every modality, and writes records.csv, accuracy.csv,
correlation.csv (Pearson r between a sample's attention on a modality and
that modality's quality = minus its noise level) and noise_probe.png.

Examples:
    python tools/analysis/noise_probe.py configs/rollingq_avdigits.py \
        work_dirs/rollingq_avdigits/best_acc_fused_top1_epoch_20.pth \
        --levels 0 0.25 0.5 1.0 --out-dir work_dirs/probe_rollingq
    torchrun --nproc_per_node 2 tools/analysis/noise_probe.py CONFIG CKPT \
        --launcher pytorch
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.logging import print_log
from mmengine.runner import Runner

import rollingq_mm  # noqa: F401  (compat layer and registration)
from rollingq_mm.analysis import (check_probe_args, format_probe_report,
                                  modality_input_keys, probe_tables,
                                  run_noise_probe, save_probe_results)
from rollingq_mm.utils import exit_distributed_cleanly, setup_cli_env
from mmaction.registry import RUNNERS  # noqa: E402  (after the compat layer)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Accuracy and attention of a model under input noise')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--modalities', nargs='+',
                        help='modalities to corrupt (default: all of '
                        'model.modalities)')
    parser.add_argument('--levels', nargs='+', type=float,
                        default=[0.0, 0.25, 0.5, 1.0],
                        help='noise std relative to the modality std')
    parser.add_argument('--seed', type=int, default=0, help='noise seed')
    parser.add_argument('--random-levels', type=float, metavar='MAX',
                        help='per-sample levels of the correlation pass are '
                        'uniform in [0, MAX] (default: the largest of '
                        '--levels; 0 skips the pass)')
    parser.add_argument('--out-dir',
                        help='output folder (default: '
                        'work_dirs/<config name>/noise_probe)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. test_dataloader.batch_size=8')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    setup_cli_env(args.local_rank)
    if args.random_levels is None:
        args.random_levels = max(args.levels)
    args.random_max_level = args.random_levels or None
    if args.random_levels < 0:
        parser.error(f'--random-levels must be >= 0, got {args.random_levels}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    try:
        input_keys = modality_input_keys(cfg.model)
        args.modalities = args.modalities or list(input_keys)
        check_probe_args(input_keys, args.modalities, args.levels,
                         args.random_max_level)
    except (KeyError, ValueError) as error:
        parser.error(f'{args.config}: {error}')
    args.cfg = cfg
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg`` (CLI wins over the file)."""
    cfg.launcher = args.launcher
    if args.out_dir is None:
        args.out_dir = osp.join(
            cfg.get('work_dir') or osp.join(
                './work_dirs',
                osp.splitext(osp.basename(args.config))[0]), 'noise_probe')
    cfg.work_dir = args.out_dir
    cfg.load_from = args.checkpoint
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(args.cfg, args)
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg else
              Runner.from_cfg(cfg))
    records = run_noise_probe(runner, args.modalities, args.levels,
                              seed=args.seed,
                              random_max_level=args.random_max_level)
    if is_main_process():
        accuracy, correlation = probe_tables(records, args.modalities,
                                             args.levels)
        title = (f'{osp.splitext(osp.basename(args.config))[0]}: '
                 f'{osp.basename(args.checkpoint)}')
        paths = save_probe_results(records, accuracy, correlation,
                                   args.modalities, args.out_dir, title=title)
        print_log('noise probe results\n' +
                  format_probe_report(accuracy, correlation),
                  logger='current')
        print_log('wrote ' + ', '.join(paths.values()), logger='current')
    exit_distributed_cleanly()


if __name__ == '__main__':
    main()
