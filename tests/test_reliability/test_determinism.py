"""Determinism: the same config and seed give the same run; 1 process and
2 gloo processes with the same total batch give the same AIR trajectory."""

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from tiny_runs import (ROTATING_AIR_HOOK, tiny_avdigits_config,
                       train_on_one_and_two_processes, write_config)

#: |AIR(1 process) - AIR(2 processes)| per epoch. The two runs compute the
#: same sums in another order (per-rank batch means averaged by DDP, then
#: an all-reduce of the statistics), so they differ by float32 rounding.
AIR_TOLERANCE = 1e-4


def run_in_process(work_dir, seed: int = 0) -> Runner:
    """Two epochs of a tiny run (dropout and random crops on)."""
    cfg = tiny_avdigits_config(work_dir, train_samples=16, max_epochs=2)
    cfg.randomness = dict(seed=seed)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def logged(runner: Runner) -> dict:
    """Every logged value except timings, as lists."""
    return {key: buffer.data[0].tolist()
            for key, buffer in runner.message_hub.log_scalars.items()
            if 'time' not in key}


def test_same_config_and_seed_give_identical_metrics(tmp_path):
    first = run_in_process(tmp_path / 'a')
    second = run_in_process(tmp_path / 'b')
    values = logged(first)
    assert {'train/loss', 'val/acc/fused_top1', 'rollingq/air'} <= set(values)
    assert logged(second) == values
    for key, value in first.model.state_dict().items():
        assert torch.equal(second.model.state_dict()[key], value), key
    other_seed = run_in_process(tmp_path / 'c', seed=1)
    assert logged(other_seed)['train/loss'] != values['train/loss']


def air_history(work_dir) -> tuple:
    """Epoch AIR values, the final rotation buffers and the number of saved
    random-number states (one per rank) of a run's last checkpoint."""
    checkpoint = torch.load(work_dir / 'epoch_3.pth', map_location='cpu',
                            weights_only=False)
    air = checkpoint['message_hub']['log_scalars']['rollingq/air'].data[0]
    head = {key.split('.')[-1]: value
            for key, value in checkpoint['state_dict'].items()
            if key.startswith('fusion_head.') and 'rotation' in key}
    return np.asarray(air), head, len(checkpoint['rng_state'])


@pytest.mark.slow
def test_one_and_two_processes_follow_the_same_air_trajectory(tmp_path):
    """Dropout is off: each rank draws its own masks, so with dropout the
    two runs are different random samples, not the same computation."""
    configs = {}
    for processes, batch in ((1, 8), (2, 4)):
        work_dir = tmp_path / f'{processes}proc'
        cfg = tiny_avdigits_config(work_dir, batch_size=batch, max_epochs=3,
                                   dropout=0.0)
        cfg.custom_hooks = [ROTATING_AIR_HOOK]
        config = write_config(cfg, tmp_path / f'{processes}proc.py')
        configs[processes] = config
    train_on_one_and_two_processes(configs, '29671')
    air_1, head_1, states_1 = air_history(tmp_path / '1proc')
    air_2, head_2, states_2 = air_history(tmp_path / '2proc')
    assert (states_1, states_2) == (1, 2)
    assert len(air_1) == len(air_2) == 3
    assert np.abs(air_1 - air_2).max() < AIR_TOLERANCE, (air_1, air_2)
    assert int(head_1['num_rotations']) == int(head_2['num_rotations']) == 2
    assert torch.allclose(head_1['rotation'], head_2['rotation'], atol=1e-4)
