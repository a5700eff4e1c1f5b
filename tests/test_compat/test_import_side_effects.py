"""``import rollingq_mm`` (``custom_imports`` in someone else's project)
changes only what the pinned stack cannot run without.

Each allowed change has a test showing the breakage without it:
the drn finder in ``test_mmaction_drn.py::test_wheel_is_broken_without_the_
plugin``, checkpoint loading in
``test_a_plain_mmengine_project_trains_the_same_with_the_plugin`` below (its
resume fails without the plugin) and ``test_checkpoint.py``, the CPU
distributed fallback in ``test_distributed.py`` (which also shows it passes
arguments through unchanged where CUDA is available).
"""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from state_compare import assert_same_tensors

from rollingq_mm.compat import UnsafeCheckpointError, safe_torch_load

REPO = Path(__file__).resolve().parents[2]
PLAIN = REPO / 'tests' / 'data' / 'plain_project' / 'train_plain.py'

#: What import may change, and why.
ALLOWED_CHANGES = {
    'mmengine.runner.checkpoint.torch':
    'torch >= 2.6 loads weights-only by default and refuses mmengine '
    "checkpoints; loads go through safe_torch_load (stack.md §2)",
    'Runner.resume':
    'resume reads the run\'s own checkpoint in full (stack.md §2)',
    'mmengine.dist.utils._init_dist_pytorch':
    'without CUDA, gloo instead of torch.cuda.set_device (stack.md §3); '
    'unchanged where CUDA is available',
    'MMDistributedDataParallel.__init__':
    'without CUDA, CPU modules wrapped with device_ids=None (stack.md §3); '
    'unchanged where CUDA is available',
    'sys.meta_path':
    "the mmaction2 1.2.0 wheel lacks localizers/drn (stack.md §1)",
}

SNAPSHOT = '''
    import json, sys, warnings
    # Third-party modules that rollingq_mm's imports load first: they add
    # their own warning filters (scipy) and meta-path finder
    # (importlib_metadata), which is not the plugin's doing.
    import importlib_metadata, mmcv, scipy.sparse, scipy.special, torch
    from mmengine.dist import utils as dist_utils
    from mmengine.fileio.backends import local_backend
    from mmengine.model.wrappers import MMDistributedDataParallel
    from mmengine.runner import checkpoint, runner

    def snapshot():
        return {
            'mmengine.runner.checkpoint.torch': checkpoint.torch,
            'Runner.resume': runner.Runner.resume,
            'Runner.train': runner.Runner.train,
            'Runner.test': runner.Runner.test,
            'LocalBackend.put': local_backend.LocalBackend.put,
            'LocalBackend.put_text': local_backend.LocalBackend.put_text,
            'mmengine.runner.runner.find_latest_checkpoint':
                runner.find_latest_checkpoint,
            'mmengine.dist.utils._init_dist_pytorch':
                dist_utils._init_dist_pytorch,
            'MMDistributedDataParallel.__init__':
                MMDistributedDataParallel.__init__,
            'sys.meta_path': list(sys.meta_path),
            'warnings.filters': list(warnings.filters),
        }

    before = snapshot()
    import rollingq_mm
    after = snapshot()
    changed = sorted(key for key in before if before[key] != after[key])
    added = [type(finder).__name__ for finder in after['sys.meta_path']
             if finder not in before['sys.meta_path']]
    print(json.dumps(dict(changed=changed, added_finders=added,
                          last_finder=type(sys.meta_path[-1]).__name__)))
'''


def test_import_changes_only_the_allowed_stack_fixes():
    run = subprocess.run([sys.executable, '-c', textwrap.dedent(SNAPSHOT)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(result['changed']) == set(ALLOWED_CHANGES), result
    assert result['added_finders'] == ['DRNPlaceholderFinder']
    assert result['last_finder'] == 'DRNPlaceholderFinder'


def train_plain(root: Path, mode: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PLAIN), str(root), mode], cwd=str(root),
        env=dict(os.environ, OMP_NUM_THREADS='1'), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


def load(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=False)


def assert_same_checkpoint(actual: dict, expected: dict, roots: tuple,
                           where: str) -> None:
    """Weights, optimizer, schedulers, logged values, runtime info (paths
    compared below their roots); the config text and times differ."""
    assert set(actual) == set(expected), where
    for key in {'state_dict', 'optimizer', 'param_schedulers'} & set(expected):
        assert_same_tensors(actual[key], expected[key], f'{where}:{key}')
    for key in ('epoch', 'iter', 'seed'):
        assert actual['meta'][key] == expected['meta'][key], (where, key)
    scalars = expected['message_hub']['log_scalars']
    actual_scalars = actual['message_hub']['log_scalars']
    assert set(actual_scalars) == set(scalars), where
    for key in scalars:
        if 'time' not in key:
            assert actual_scalars[key].data[0].tolist() == \
                scalars[key].data[0].tolist(), (where, key)
    info = expected['message_hub']['runtime_info']
    actual_info = actual['message_hub']['runtime_info']
    assert set(actual_info) == set(info), where
    for key in info:
        if key in ('cfg', 'eta', 'experiment_name', 'time', 'timestamp'):
            continue
        a, e = actual_info[key], info[key]
        if isinstance(e, str):
            a, e = a.replace(roots[0], ''), e.replace(roots[1], '')
        assert_same_tensors(a, e, f'{where}:runtime_info.{key}')


def test_a_plain_mmengine_project_trains_the_same_with_the_plugin(tmp_path):
    """A project with no rollingq component (mmengine model, dataset,
    metric, CheckpointHook with max_keep_ckpts and save_best) trains and
    saves the same files and checkpoints in a process that imported
    rollingq_mm as in one that did not.

    Resuming cannot be compared: without the plugin mmengine's resume fails
    under torch >= 2.6 (``Weights only load failed``, the checkpoint stack
    fix). With the plugin the resumed run ends exactly where the
    uninterrupted 3-epoch run without the plugin ends. The checkpoints hold
    an object a weights-only load refuses (the project's hook stores it):
    the resume works only because ``Runner.resume`` loads the run's own
    file in full (the allowed ``Runner.resume`` change).
    """
    roots = {mode: tmp_path / mode for mode in ('plugin', 'none')}
    for root in roots.values():
        root.mkdir()
    processes = {mode: train_plain(root, mode)
                 for mode, root in roots.items()}
    logs = {mode: process.communicate(timeout=600)[0]
            for mode, process in processes.items()}
    for mode, process in processes.items():
        assert process.returncode == 0, (mode, logs[mode][-3000:])
    files = {mode: [line for line in log.splitlines()
                    if line.startswith('FILES ')] for mode, log in
             logs.items()}
    assert files['plugin'] == files['none'] != []
    assert 'best_mse_epoch_' in files['none'][0]

    assert 'RESUME FAILED UnpicklingError Weights only load failed' in \
        logs['none']
    assert 'RESUMED' in logs['plugin']
    with pytest.raises(UnsafeCheckpointError):
        safe_torch_load(str(roots['plugin'] / 'full' / 'epoch_3.pth'))

    plugin, none = str(roots['plugin']), str(roots['none'])
    full = {mode: root / 'full' for mode, root in roots.items()}
    assert sorted(p.name for p in full['plugin'].glob('*.pth')) == \
        sorted(p.name for p in full['none'].glob('*.pth')) == [
            'best_mse_epoch_3.pth', 'epoch_2.pth', 'epoch_3.pth']
    for name in ('epoch_2.pth', 'epoch_3.pth', 'best_mse_epoch_3.pth'):
        assert_same_checkpoint(load(full['plugin'] / name),
                               load(full['none'] / name), (plugin, none),
                               name)
    assert (full['plugin'] / 'last_checkpoint').read_text().replace(
        plugin, '') == (full['none'] / 'last_checkpoint').read_text(
        ).replace(none, '')

    resumed = load(roots['plugin'] / 'run' / 'epoch_3.pth')
    uninterrupted = load(full['none'] / 'epoch_3.pth')
    for key in ('state_dict', 'optimizer', 'param_schedulers'):
        assert_same_tensors(resumed[key], uninterrupted[key], f'resumed:{key}')
