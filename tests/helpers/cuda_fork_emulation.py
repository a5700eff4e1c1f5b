"""Emulate, on a CPU machine, what a GPU run's forked loader workers meet.

A DataLoader worker forked from a process that has initialised CUDA still
reports CUDA as available (``torch.cuda.is_available()`` is True), torch
knows it is in a "bad fork" (so ``torch.manual_seed`` leaves CUDA alone),
and any CUDA generator call raises "Cannot re-initialize CUDA in forked
subprocess". :func:`emulate_forked_cuda_child` makes the current process
behave so; :func:`install` applies it to every process forked from now on,
while the calling process stays CPU-only.

Run as a script, it trains like ``tools/train.py`` (same arguments) with the
emulation installed in the loader workers.
"""
import os
import runpy
import sys
from pathlib import Path

import torch

#: The error CUDA raises in a forked child of a CUDA-initialised parent.
FORK_ERROR = ('Cannot re-initialize CUDA in forked subprocess. To use CUDA '
              "with multiprocessing, you must use the 'spawn' start method")
#: The CUDA generator functions that raise in such a child.
CUDA_GENERATOR_FUNCTIONS = ('get_rng_state', 'get_rng_state_all',
                            'set_rng_state', 'set_rng_state_all',
                            'manual_seed', 'manual_seed_all', 'seed',
                            'seed_all', 'initial_seed', 'init')


def _refuse(*args, **kwargs):
    raise RuntimeError(FORK_ERROR)


def emulate_forked_cuda_child() -> None:
    """Make this process look like a forked child of a CUDA process."""
    torch.cuda.is_available = lambda: True
    torch.cuda._is_in_bad_fork = lambda: True
    for name in CUDA_GENERATOR_FUNCTIONS:
        setattr(torch.cuda, name, _refuse)


def install() -> None:
    """Apply :func:`emulate_forked_cuda_child` in every forked child."""
    os.register_at_fork(after_in_child=emulate_forked_cuda_child)


if __name__ == '__main__':
    install()
    train = Path(__file__).resolve().parents[2] / 'tools' / 'train.py'
    sys.argv = [str(train), *sys.argv[1:]]
    runpy.run_path(str(train), run_name='__main__')
