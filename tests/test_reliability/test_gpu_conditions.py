"""GPU conditions emulated on CPU: forked loader workers of a CUDA process,
checkpoints loaded onto another device for ``--resume``."""
import io
import multiprocessing
import random
import subprocess
import sys

import numpy as np
import pytest
import torch
from cuda_fork_emulation import FORK_ERROR, emulate_forked_cuda_child
from tiny_runs import (HERE, REPO, subprocess_env, tiny_avdigits_config,
                       write_config)

from rollingq_mm.compat import safe_torch_load
from rollingq_mm.utils import get_rng_state, set_rng_state


def _in_emulated_child(cuda: bool, queue) -> None:
    emulate_forked_cuda_child()
    try:
        state = get_rng_state(cuda=cuda)
        set_rng_state(state)
        queue.put(('ok', sorted(state)))
    except RuntimeError as error:
        queue.put(('error', str(error)))


@pytest.mark.parametrize('cuda', [True, False])
def test_forked_child_of_a_cuda_process_refuses_cuda_generators(cuda):
    """The emulation bites: capturing the CUDA generators in such a child
    raises; the CPU-only capture that loader workers use does not."""
    context = multiprocessing.get_context('fork')
    queue = context.Queue()
    child = context.Process(target=_in_emulated_child, args=(cuda, queue))
    child.start()
    outcome, detail = queue.get(timeout=60)
    child.join(timeout=60)
    if cuda:
        assert outcome == 'error' and FORK_ERROR in detail
    else:
        assert outcome == 'ok' and 'cuda' not in detail


@pytest.mark.parametrize('seed_per_sample', [True, False])
def test_training_with_workers_forked_from_a_cuda_process(
        tmp_path, seed_per_sample):
    """A real config trains an epoch with 2 loader workers that report CUDA
    but refuse its generators, with and without per-sample seeding (which
    saves and restores the generators around every sample)."""
    cfg = tiny_avdigits_config(tmp_path, train_samples=16, max_epochs=1,
                               num_workers=2)
    cfg.default_hooks.rng_state.seed_per_sample = seed_per_sample
    config = write_config(cfg, tmp_path / 'config.py')
    run = subprocess.run(
        [sys.executable, str(HERE / 'cuda_fork_emulation.py'), str(config)],
        cwd=str(REPO), env=subprocess_env(), capture_output=True, text=True,
        timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-3000:]
    assert 'Cannot re-initialize CUDA' not in log
    assert (tmp_path / 'epoch_1.pth').exists()


def _draws() -> tuple:
    return (random.random(), float(np.random.rand()), float(torch.rand(())))


def test_rng_state_restores_from_a_checkpoint_loaded_onto_another_device():
    """mmengine's resume maps checkpoints onto the current device; the saved
    state (plain bytes) is the same whatever the map_location ('meta' holds
    no data at all)."""
    torch.manual_seed(3)
    state = get_rng_state()
    expected = _draws()
    buffer = io.BytesIO()
    torch.save(dict(rng_state=[state]), buffer)
    for device in ('meta', 'cpu'):
        buffer.seek(0)
        loaded = safe_torch_load(buffer, map_location=device)['rng_state']
        _draws()
        set_rng_state(loaded[0])
        assert _draws() == expected, device


def test_rng_state_of_earlier_checkpoints_still_restores():
    """Checkpoints written before states were bytes hold tensors: they
    restore from any device with data, and 'meta' names the problem."""
    torch.manual_seed(4)
    state = get_rng_state()
    expected = _draws()
    keys = np.frombuffer(state['numpy']['keys'], dtype=np.uint32)
    legacy = dict(state,
                  numpy=dict(state['numpy'],
                             keys=torch.from_numpy(keys.astype(np.int64))),
                  torch=torch.frombuffer(bytearray(state['torch']),
                                         dtype=torch.uint8))
    set_rng_state(legacy)
    assert _draws() == expected
    on_meta = dict(legacy, torch=legacy['torch'].to('meta'))
    with pytest.raises(ValueError, match="'torch'.*meta"):
        set_rng_state(on_meta)
