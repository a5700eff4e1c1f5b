"""Train an audio-visual recognizer with RollingQ (mmaction2-style CLI).

Example:
    python tools/train.py configs/rollingq_avdigits.py
    bash tools/dist_train.sh configs/rollingq_ks.py 4 --resume auto
"""
import argparse

from mmengine.config import Config

import rollingq_mm  # noqa: F401  (compat layer and registration)
from rollingq_mm.compat import find_resumable_checkpoint
from rollingq_mm.utils import (add_runner_args, apply_runner_args,
                               build_runner, exit_distributed_cleanly,
                               set_deterministic_env, unscaled_batch_message,
                               validate_config)
from rollingq_mm.utils.launch import drop_unreached_schedulers


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a RollingQ model')
    parser.add_argument('config', help='config file path')
    add_runner_args(parser)
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from this checkpoint, or with no value (auto) from the '
        'one named in <work_dir>/last_checkpoint if it is complete, else the '
        'newest complete checkpoint in the work dir, else start afresh')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the learning rate with the total batch')
    parser.add_argument('--seed', type=int, default=None, help='random seed')
    parser.add_argument('--diff-rank-seed', action='store_true',
                        help='a different seed on each rank')
    parser.add_argument('--deterministic', action='store_true',
                        help='deterministic algorithms (slower)')
    return parser.parse_args()


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg`` (CLI wins over the file)."""
    apply_runner_args(cfg, args)
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError(
                f'--amp cannot change optim_wrapper.type={wrapper}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume is not None:
        cfg.resume = True
        cfg.load_from = None if args.resume == 'auto' else args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    randomness = dict(cfg.get('randomness') or dict(seed=None))
    if args.seed is not None:
        randomness['seed'] = args.seed
    if args.diff_rank_seed:
        randomness['diff_rank_seed'] = True
    if args.deterministic:
        randomness['deterministic'] = True
    cfg.randomness = randomness
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.resume == 'auto':
        # Checked here, not by mmengine's find_latest_checkpoint: a torn
        # last_checkpoint or newest file falls back to a complete one.
        cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
        cfg.resume = cfg.load_from is not None
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    validate_config(cfg, mode='train')
    set_deterministic_env(cfg)
    unused_schedulers = drop_unreached_schedulers(cfg)
    runner = build_runner(cfg)
    for message in unused_schedulers:
        runner.logger.info(message)
    message = unscaled_batch_message(cfg, runner.world_size)
    if message is not None:
        runner.logger.warning(message)
    if args.resume == 'auto':
        runner.logger.info(
            f'Auto resumed from the latest checkpoint {cfg.load_from}.'
            if cfg.resume else
            f'--resume auto: no checkpoint in {cfg.work_dir}, starting from '
            'scratch.')
    runner.train()
    exit_distributed_cleanly()


if __name__ == '__main__':
    main()
