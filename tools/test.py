"""Test a trained audio-visual recognizer (mmaction2-style CLI).

Example:
    python tools/test.py configs/rollingq_avdigits.py work_dirs/rollingq_avdigits/best.pth
    bash tools/dist_test.sh configs/rollingq_ks.py CHECKPOINT 4 --dump results.pkl
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

import rollingq_mm  # noqa: F401  (compat layer and registration)
from rollingq_mm.utils import (exit_distributed_cleanly, setup_cli_env,
                               validate_config)
from mmaction.registry import RUNNERS  # noqa: E402  (after the compat layer)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a RollingQ model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='folder for the test log')
    parser.add_argument('--dump', type=str,
                        help='dump the per-sample predictions to this .pkl')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. test_dataloader.batch_size=8')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    setup_cli_env(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg`` (CLI wins over the file)."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.dump is not None:
        if not args.dump.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--dump must be a .pkl file, got {args.dump}')
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, (list, tuple)):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [
            dict(type='DumpResults', out_file_path=args.dump)]
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    validate_config(cfg, mode='test')
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg else
              Runner.from_cfg(cfg))
    runner.test()
    exit_distributed_cleanly()


if __name__ == '__main__':
    main()
