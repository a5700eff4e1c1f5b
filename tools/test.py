r"""Test a trained audio-visual recognizer (mmaction2-style CLI).

Example:
    python tools/test.py configs/rollingq_avdigits.py \
        work_dirs/rollingq_avdigits/best.pth
    bash tools/dist_test.sh configs/rollingq_ks.py CHECKPOINT 4 \
        --dump results.pkl
    # fused top-1 lost without each modality (ModalityContributionMetric),
    # (the config's tta_model, default ModalityAblationTTA 'mean'):
    python tools/test.py CONFIG CHECKPOINT --tta
"""
import argparse

from mmengine.config import Config, ConfigDict

import rollingq_mm  # noqa: F401  (compat layer and registration)
from rollingq_mm.utils import (add_runner_args, apply_runner_args,
                               build_runner, exit_distributed_cleanly,
                               set_deterministic_env, validate_config)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a RollingQ model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    add_runner_args(parser)
    parser.add_argument('--dump', type=str,
                        help='dump the per-sample predictions to this .pkl')
    parser.add_argument(
        '--tta', action='store_true',
        help='wrap the model in the config\'s tta_model (default: '
        "dict(type='ModalityAblationTTA', ablation='mean')) and use its "
        'tta_pipeline if it has one, as mmpretrain\'s test.py does')
    return parser.parse_args()


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg`` (CLI wins over the file)."""
    apply_runner_args(cfg, args)
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


def apply_tta(cfg: Config) -> Config:
    """Wrap ``cfg.model`` in ``cfg.tta_model`` (default: the 'mean'
    ``ModalityAblationTTA``); ``cfg.tta_pipeline``, when set, replaces the
    test pipeline. As mmpretrain's ``tools/test.py --tta``."""
    if 'tta_model' not in cfg:
        cfg.tta_model = dict(type='ModalityAblationTTA', ablation='mean')
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    if 'tta_pipeline' in cfg:
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    validate_config(cfg, mode='test')
    if args.tta:
        apply_tta(cfg)
    set_deterministic_env(cfg)
    build_runner(cfg).test()
    exit_distributed_cleanly()


if __name__ == '__main__':
    main()
