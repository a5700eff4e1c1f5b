"""Noise probe: accuracy and fusion attention of a trained model under noise.

Evaluates CHECKPOINT on the config's test split once clean, then with
Gaussian noise of each level on each modality, then with a per-sample
random level on every modality, and writes records.csv, accuracy.csv,
correlation.csv (Pearson r between a sample's attention on a modality and
that modality's quality = minus its noise level) and noise_probe.png.

Examples:
    python tools/analysis/noise_probe.py configs/rollingq_avdigits.py \
        work_dirs/rollingq_avdigits/best_acc_fused_top1_epoch_20.pth \
        --levels 0 0.25 0.5 1.0 --work-dir work_dirs/probe_rollingq
    torchrun --nproc_per_node 2 tools/analysis/noise_probe.py CONFIG CKPT \
        --launcher pytorch
"""
import argparse
import os.path as osp

from mmengine.config import Config
from mmengine.dist import is_main_process
from mmengine.logging import print_log

import rollingq_mm  # noqa: F401  (compat layer and registration)
from rollingq_mm.utils import (add_runner_args, apply_runner_args,
                               build_runner, exit_distributed_cleanly,
                               validate_config)

# Helpers beside this script (its folder is on sys.path when it runs).
from probe_outputs import (format_probe_report, probe_tables,
                           save_probe_results)
from probe_passes import (check_probe_args, modality_input_keys,
                          run_noise_probe)


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
                        help='folder for the CSV files and the figure '
                        '(default: <work dir>/noise_probe)')
    add_runner_args(parser)
    args = parser.parse_args()
    if args.random_levels is None:
        args.random_levels = max(args.levels)
    if args.random_levels < 0:
        parser.error(f'--random-levels must be >= 0, got {args.random_levels}')
    args.random_max_level = args.random_levels or None
    args.cfg = merge_args(Config.fromfile(args.config), args)
    try:
        input_keys = modality_input_keys(args.cfg.model)
        args.modalities = args.modalities or list(input_keys)
        check_probe_args(input_keys, args.modalities, args.levels,
                         args.random_max_level)
    except (KeyError, ValueError) as error:
        parser.error(f'{args.config}: {error}')
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg`` (CLI wins over the file)."""
    apply_runner_args(cfg, args)
    cfg.load_from = args.checkpoint
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.out_dir is None:
        args.out_dir = osp.join(cfg.work_dir, 'noise_probe')
    return cfg


def main() -> None:
    args = parse_args()
    validate_config(args.cfg, mode='test')
    runner = build_runner(args.cfg)
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
