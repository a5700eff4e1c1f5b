"""A run SIGKILLed mid-epoch (or mid-checkpoint write) and restarted with
``--resume auto`` ends bit-identical to the same run never interrupted.

Three ``tools/train.py`` runs of one tiny AV-Digits config (4 epochs of 4
iterations, one persistent loader worker, dropout on, random audio crops,
``--deterministic``, rotations at the ends of epochs 1 and 3) start
together: the reference; one killed by SIGKILL after iteration 10 (epoch 3,
after the first rotation); one killed while it rewrites ``epoch_1.pth``
after the first validation (the file ``last_checkpoint`` already names).
The two killed runs are then restarted with ``--resume auto``.
"""
import re
import signal
import subprocess
from pathlib import Path

import pytest
import torch
from state_compare import assert_same_tensors
from tiny_runs import (REPO, ROTATING_AIR_HOOK, subprocess_env,
                       tiny_avdigits_config, train_command, write_config)

from rollingq_mm.compat import is_complete_checkpoint

KILL_AT_ITERATION = 10
AUTO_RESUMED = 'Auto resumed from the latest checkpoint '
RUNS = {
    'reference': [],
    'killed': [dict(type='KillAtIterationHook', iteration=KILL_AT_ITERATION)],
    'torn_save': [dict(type='KillDuringCheckpointWriteHook', save_index=3)],
}


def start_all(commands: dict) -> dict:
    """Run the commands concurrently; return their CompletedProcess."""
    processes = {
        name: subprocess.Popen(command, cwd=str(REPO), env=subprocess_env(),
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        for name, command in commands.items()
    }
    results = {}
    for name, process in processes.items():
        output, _ = process.communicate(timeout=600)
        results[name] = subprocess.CompletedProcess(
            process.args, process.returncode, output)
    return results


@pytest.fixture(scope='module')
def runs(tmp_path_factory) -> dict:
    """Work dirs and logs of the reference, killed and resumed runs."""
    root = tmp_path_factory.mktemp('crash_resume')
    configs = {}
    for name, extra_hooks in RUNS.items():
        cfg = tiny_avdigits_config(root / name, num_workers=1,
                                   persistent_workers=True)
        cfg.custom_imports.imports = ['rollingq_mm', 'reliability_hooks']
        cfg.custom_hooks = [ROTATING_AIR_HOOK] + extra_hooks
        configs[name] = write_config(cfg, root / f'{name}.py')
    first = start_all({
        name: train_command(path, '--deterministic')
        for name, path in configs.items()
    })
    work_dirs = {name: root / name for name in RUNS}
    states = {
        name: dict(
            last_checkpoint=(work_dirs[name] / 'last_checkpoint').read_text(),
            files=sorted(p.name for p in work_dirs[name].iterdir()))
        for name in RUNS
    }
    resumed = start_all({
        name: train_command(configs[name], '--deterministic', '--resume',
                            'auto')
        for name in ('killed', 'torn_save')
    })
    return dict(first=first, resumed=resumed, work_dirs=work_dirs,
                states=states)


def load(work_dir: Path, name: str = 'epoch_4.pth') -> dict:
    """A checkpoint the test's own runs wrote (full unpickling)."""
    return torch.load(work_dir / name, map_location='cpu', weights_only=False)


def final_validation(log: str) -> str:
    """The metrics of the last validation line of a log (times left out)."""
    lines = re.findall(r'Epoch\(val\) \[4\]\[2/2\]\s+(acc/.*?)\s+data_time',
                       log)
    assert len(lines) == 1, log[-3000:]
    return lines[0]


def assert_same_run(actual: dict, expected: dict, resumed_epoch: int) -> None:
    """Parameters, buffers, optimizer, schedulers, RNG and logged values.

    ``epoch_N.pth`` is written before epoch N is validated (and written again
    after it only for a new best score), so a run resumed from it lacks
    epoch N's validation entry in its message hub: the validation histories
    must be the reference's without that entry.
    """
    assert actual['meta']['epoch'] == expected['meta']['epoch'] == 4
    assert actual['meta']['iter'] == expected['meta']['iter'] == 16
    assert_same_tensors(actual['state_dict'], expected['state_dict'],
                        'state_dict')
    assert_same_tensors(actual['optimizer'], expected['optimizer'],
                        'optimizer')
    assert_same_tensors(actual['param_schedulers'],
                        expected['param_schedulers'], 'param_schedulers')
    assert_same_tensors(actual['rng_state'], expected['rng_state'],
                        'rng_state')
    scalars = expected['message_hub']['log_scalars']
    resumed_scalars = actual['message_hub']['log_scalars']
    compared = [key for key in scalars if 'time' not in key]
    assert {'train/loss', 'train/lr', 'val/acc/fused_top1', 'rollingq/air',
            'rollingq/num_rotations'} <= set(compared)
    for key in compared:
        values, counts = scalars[key].data
        resumed_values, resumed_counts = resumed_scalars[key].data
        if key.startswith('val/') and len(resumed_values) < len(values):
            keep = [e for e in range(len(values)) if e + 1 != resumed_epoch]
            values, counts = values[keep], counts[keep]
        assert resumed_values.tolist() == values.tolist(), key
        assert resumed_counts.tolist() == counts.tolist(), key


@pytest.mark.slow
def test_runs_finish_and_the_kills_hit_where_intended(runs):
    first, resumed = runs['first'], runs['resumed']
    reference = first['reference']
    assert reference.returncode == 0, reference.stdout[-3000:]
    assert first['killed'].returncode == -9, first['killed'].stdout[-3000:]
    marker = runs['work_dirs']['killed'] / 'killed_at_iteration'
    assert marker.read_text() == f'epoch 3 iter {KILL_AT_ITERATION}'
    assert 'rotated the fusion query' in first['killed'].stdout
    # SIGXFSZ: the kernel stopped the process inside the checkpoint write.
    assert first["torn_save"].returncode == -signal.SIGXFSZ, \
        first['torn_save'].stdout[-3000:]
    for name, run in resumed.items():
        assert run.returncode == 0, (name, run.stdout[-3000:])
        assert 'RNGStateHook: restored the random-number state' in run.stdout


@pytest.mark.slow
def test_sigkill_mid_epoch_after_a_rotation_resumes_bit_exactly(runs):
    work_dirs = runs['work_dirs']
    killed = runs['states']['killed']
    assert killed['last_checkpoint'].endswith('epoch_2.pth')
    assert load(work_dirs['killed'], 'epoch_2.pth')['state_dict'][
        'fusion_head.num_rotations'] == 1
    log = runs['resumed']['killed'].stdout
    assert re.search(AUTO_RESUMED + r'\S*epoch_2\.pth', log)
    assert 'Epoch(train) [3][1/4]' in log and 'Epoch(train) [2]' not in log
    reference = load(work_dirs['reference'])
    resumed = load(work_dirs['killed'])
    assert reference['state_dict']['fusion_head.num_rotations'] == 2
    assert not torch.equal(reference['state_dict']['fusion_head.rotation'],
                           torch.eye(32))
    assert_same_run(resumed, reference, resumed_epoch=2)
    assert final_validation(log) == final_validation(
        runs['first']['reference'].stdout)


@pytest.mark.slow
def test_kill_during_a_checkpoint_write_leaves_the_named_file_whole(runs):
    work_dir = runs['work_dirs']['torn_save']
    state = runs['states']['torn_save']
    # The process died rewriting epoch_1.pth, the file last_checkpoint names:
    # the torn bytes are in a temporary file, epoch_1.pth is the whole
    # previous version (mmengine alone would have truncated it in place).
    assert state['last_checkpoint'].endswith('epoch_1.pth')
    assert (work_dir / 'killed_during_save').exists()
    torn = [name for name in state['files'] if name.startswith('.tmp-epoch_1')]
    assert len(torn) == 1, state['files']
    assert 'epoch_2.pth' not in state['files']
    log = runs['resumed']['torn_save'].stdout
    assert re.search(AUTO_RESUMED + r'\S*epoch_1\.pth', log)
    assert is_complete_checkpoint(work_dir / 'epoch_4.pth')
    assert_same_run(load(work_dir), load(runs['work_dirs']['reference']),
                    resumed_epoch=1)
    assert final_validation(log) == final_validation(
        runs['first']['reference'].stdout)
