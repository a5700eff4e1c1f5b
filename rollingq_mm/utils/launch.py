"""Command line, process set-up and tear-down shared by ``tools/train.py``,
``tools/test.py`` and the analysis tools."""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import torch.distributed as torch_dist
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def setup_cli_env(local_rank: int) -> None:
    """Export ``LOCAL_RANK`` for launchers that pass ``--local-rank`` only."""
    os.environ.setdefault('LOCAL_RANK', str(local_rank))


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """The options every runner tool takes, as mmaction2's tools do:
    ``--work-dir``, ``--cfg-options``, ``--launcher``, ``--local-rank``."""
    parser.add_argument('--work-dir', help='folder for logs and outputs')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config keys, e.g. train_dataloader.batch_size=8')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def apply_runner_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Set the launcher and the work dir (CLI, else the config's, else
    ``work_dirs/<config name>``) of ``cfg`` from :func:`add_runner_args`'s
    options; exports ``LOCAL_RANK``."""
    setup_cli_env(args.local_rank)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    """The config's ``runner_type`` from the registry, else mmengine's."""
    from mmaction.registry import RUNNERS
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)


#: cuBLAS workspace setting under which its GEMMs are deterministic (CUDA
#: >= 10.2; torch raises in deterministic mode without it).
CUBLAS_WORKSPACE_CONFIG = ':4096:8'


def set_deterministic_env(cfg: Config) -> None:
    """Export ``CUBLAS_WORKSPACE_CONFIG`` when ``cfg`` asks for
    deterministic algorithms (``--deterministic``,
    ``randomness.deterministic=True``).

    cuBLAS reads it when its handle is created, at the first GEMM on the
    GPU, so it must be set before the run starts; a value the user set is
    kept.
    """
    if (cfg.get('randomness') or {}).get('deterministic', False):
        os.environ.setdefault('CUBLAS_WORKSPACE_CONFIG',
                              CUBLAS_WORKSPACE_CONFIG)


def unscaled_batch_message(cfg: Config, world_size: int) -> Optional[str]:
    """Why the lr does not fit the total batch, or None when it does.

    The lr of a config is meant for ``auto_scale_lr.base_batch_size``
    samples per step in total (processes x ``train_dataloader.batch_size``);
    mmengine scales it to another total only when ``auto_scale_lr.enable``.

    Args:
        cfg (Config): The training config.
        world_size (int): Number of training processes.

    Returns:
        str | None: A warning naming the keys and both totals.
    """
    scaling = cfg.get('auto_scale_lr') or {}
    base = scaling.get('base_batch_size')
    batch = (cfg.get('train_dataloader') or {}).get('batch_size')
    if base is None or batch is None or scaling.get('enable', False):
        return None
    total = world_size * batch
    if total == base:
        return None
    return (f'The total batch is {total} ({world_size} process(es) x '
            f'train_dataloader.batch_size={batch}), but the optimizer '
            f'settings are for auto_scale_lr.base_batch_size={base} and '
            'auto_scale_lr.enable is False: the lr is used unscaled (and '
            'the warm-up, counted in epochs, covers other steps). Pass '
            f'--auto-scale-lr, or make the total {base}.')


def drop_unreached_schedulers(cfg: Config) -> List[str]:
    """Remove the epoch-based parameter schedulers that have no ``end`` and
    would begin at or after ``train_cfg.max_epochs`` (in place).

    The Runner ends such a scheduler (the cosine phase of the configs'
    schedules) at ``max_epochs``; in a shorter run, e.g. a one-epoch check
    of a config with a one-epoch warm-up, it would never act, and MMEngine
    refuses to build it (``end`` must exceed ``begin``).

    Args:
        cfg (Config): The training config.

    Returns:
        list[str]: One message per removed scheduler, naming it.
    """
    max_epochs = (cfg.get('train_cfg') or {}).get('max_epochs')
    schedulers = cfg.get('param_scheduler')
    if max_epochs is None or not isinstance(schedulers, list):
        return []
    kept, messages = [], []
    for index, scheduler in enumerate(schedulers):
        if (isinstance(scheduler, dict) and scheduler.get('by_epoch', True)
                and 'end' not in scheduler
                and scheduler.get('begin', 0) >= max_epochs):
            messages.append(
                f'param_scheduler[{index}] ({scheduler.get("type")}) begins '
                f'at epoch {scheduler.get("begin", 0)}, not before '
                f'train_cfg.max_epochs={max_epochs}: not used in this run.')
        else:
            kept.append(scheduler)
    cfg.param_scheduler = kept
    return messages


def exit_distributed_cleanly() -> None:
    """End a finished distributed run: wait for every rank, destroy the
    process group, then leave with ``sys.exit(0)``.

    Destroying the process group before the interpreter shuts down stops
    the gloo/NCCL threads while Python is still whole; without it about one
    in ten 2-process runs aborted at exit (``terminate called without an
    active exception``). The exit is an ordinary one: ``atexit`` handlers,
    log handlers and open files are closed as usual. Does nothing in a
    non-distributed run.
    """
    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        return
    torch_dist.barrier()
    torch_dist.destroy_process_group()
    sys.exit(0)
