"""Atomic checkpoint writes (the ``'atomic_local'`` file backend a config
names) and the checked ``tools/train.py --resume auto``.

A write cut short (here by a real file size limit: Python ignores SIGXFSZ,
so the write fails with EFBIG) must leave the previous file whole, and
``--resume auto`` must never pick a file it cannot load.
"""
import contextlib
import os
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.fileio import get_file_backend
from mmengine.runner import save_checkpoint

from rollingq_mm.compat import (AtomicLocalBackend, atomic_write_bytes,
                                find_resumable_checkpoint,
                                is_complete_checkpoint)

REPO = Path(__file__).resolve().parents[2]
TOY = REPO / 'tests' / 'data' / 'toy'


@contextlib.contextmanager
def file_size_limit(size: int):
    """Limit the size of files this process writes (soft limit only)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def checkpoint(path, value: float, mtime: float):
    """A small mmengine-like checkpoint with a chosen modification time."""
    torch.save({'meta': {'epoch': int(value)},
                'state_dict': {'w': torch.full((64, 64), value)}}, path)
    os.utime(path, (mtime, mtime))
    return path


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path):
    path = tmp_path / 'epoch_1.pth'
    path.write_bytes(b'previous')
    with file_size_limit(1024), pytest.raises(OSError):
        atomic_write_bytes(b'x' * 4096, path)
    assert path.read_bytes() == b'previous'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']
    atomic_write_bytes(b'new', path)
    assert path.read_bytes() == b'new'


def test_the_runtime_config_names_the_atomic_backend(tmp_path):
    """configs/_base_/default_runtime.py's CheckpointHook asks for it."""
    runtime = Config.fromfile(
        str(REPO / 'configs' / '_base_' / 'default_runtime.py'))
    backend_args = runtime.default_hooks.checkpoint.backend_args
    assert backend_args == dict(backend='atomic_local')
    backend = get_file_backend(str(tmp_path), backend_args=backend_args)
    assert isinstance(backend, AtomicLocalBackend)
    assert type(get_file_backend(str(tmp_path))).put is not \
        AtomicLocalBackend.put


def test_mmengine_save_checkpoint_writes_atomically(tmp_path):
    """Through ``backend_args``, as ``CheckpointHook`` passes them; without
    them mmengine's plain ``LocalBackend`` truncates the file in place."""
    path = tmp_path / 'epoch_2.pth'
    checkpoint(path, 2.0, 1000.0)
    with file_size_limit(4096), pytest.raises(OSError):
        save_checkpoint({'state_dict': {'w': torch.zeros(64, 64)}}, str(path),
                        backend_args=dict(backend='atomic_local'))
    assert is_complete_checkpoint(path)
    assert torch.load(path)['state_dict']['w'][0, 0] == 2.0
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_2.pth']
    with file_size_limit(4096), pytest.raises(OSError):
        save_checkpoint({'state_dict': {'w': torch.zeros(64, 64)}}, str(path))
    assert not is_complete_checkpoint(path)


def test_is_complete_checkpoint_rejects_cut_files(tmp_path):
    whole = checkpoint(tmp_path / 'a.pth', 1.0, 1000.0)
    data = whole.read_bytes()
    assert is_complete_checkpoint(whole)
    for size in (0, 100, len(data) // 2, len(data) - 1):
        cut = tmp_path / f'cut_{size}.pth'
        cut.write_bytes(data[:size])
        assert not is_complete_checkpoint(cut), size
    assert not is_complete_checkpoint(tmp_path / 'missing.pth')


@pytest.mark.parametrize('record', ['torn', 'missing', 'empty', 'absent'])
def test_auto_resume_falls_back_to_the_newest_whole_checkpoint(
        tmp_path, record):
    checkpoint(tmp_path / 'epoch_1.pth', 1.0, 1000.0)
    newest = checkpoint(tmp_path / 'epoch_2.pth', 2.0, 2000.0)
    checkpoint(tmp_path / 'best_acc_epoch_2.pth', 2.0, 3000.0)
    torn = tmp_path / 'epoch_3.pth'
    torn.write_bytes(newest.read_bytes()[:500])
    os.utime(torn, (4000.0, 4000.0))
    (tmp_path / '.tmp-epoch_3.pth.abc').write_bytes(newest.read_bytes())
    named = dict(torn=str(torn), missing=str(tmp_path / 'epoch_9.pth'),
                 empty='', absent=None)[record]
    if named is not None:
        (tmp_path / 'last_checkpoint').write_text(named)
    assert find_resumable_checkpoint(str(tmp_path)) == str(newest)


def test_auto_resume_takes_the_named_whole_checkpoint_or_nothing(tmp_path):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    older = checkpoint(tmp_path / 'epoch_1.pth', 1.0, 1000.0)
    checkpoint(tmp_path / 'epoch_2.pth', 2.0, 2000.0)
    (tmp_path / 'last_checkpoint').write_text(str(older))
    assert find_resumable_checkpoint(str(tmp_path)) == str(older)
    for path in tmp_path.glob('epoch_*.pth'):
        path.write_bytes(b'PK')
    assert find_resumable_checkpoint(str(tmp_path)) is None


def toy_train(work_dir: Path, *args: str) -> str:
    """``tools/train.py`` on the toy config; its output."""
    run = subprocess.run(
        [sys.executable, str(REPO / 'tools' / 'train.py'),
         str(TOY / 'toy_config.py'), '--work-dir', str(work_dir), *args],
        cwd=str(REPO), capture_output=True, text=True, timeout=300,
        env=dict(os.environ, PYTHONPATH=str(TOY), OMP_NUM_THREADS='1'))
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout + run.stderr


@pytest.fixture(scope='module')
def two_epochs(tmp_path_factory) -> Path:
    """A toy run's work dir after 2 epochs (copied by the tests)."""
    work_dir = tmp_path_factory.mktemp('two_epochs') / 'run'
    toy_train(work_dir, '--cfg-options', 'train_cfg.max_epochs=2')
    return work_dir


@pytest.mark.parametrize('damage,resumed',
                         [('torn_record', 2), ('truncated_newest', 1)])
def test_train_tool_auto_resume_skips_damaged_files(tmp_path, two_epochs,
                                                    damage, resumed):
    """A torn ``last_checkpoint`` (it names a missing file) or a truncated
    newest checkpoint: the tool resumes the newest complete one (mmengine's
    own auto-resume loads the named file and fails), and trains on."""
    work_dir = tmp_path / 'run'
    shutil.copytree(two_epochs, work_dir)
    record = work_dir / 'last_checkpoint'
    record.write_text(str(work_dir / 'epoch_2.pth'))
    if damage == 'torn_record':
        record.write_text(record.read_text()[:-5])
    else:
        newest = work_dir / 'epoch_2.pth'
        newest.write_bytes(newest.read_bytes()[:1000])
    log = toy_train(work_dir, '--resume', '--cfg-options',
                    'train_cfg.max_epochs=3')
    assert re.search(r'Auto resumed from the latest checkpoint \S*'
                     rf'epoch_{resumed}\.pth', log), log[-3000:]
    assert f'resumed epoch: {resumed}' in log
    assert f'Epoch(train) [{resumed + 1}]' in log
    assert f'Epoch(train) [{resumed}]' not in log
    assert is_complete_checkpoint(work_dir / 'epoch_3.pth')


def test_train_tool_auto_resume_without_checkpoints_starts_afresh(tmp_path):
    log = toy_train(tmp_path, '--resume', 'auto', '--cfg-options',
                    'train_cfg.max_epochs=1')
    assert 'no checkpoint in' in log and 'starting from scratch' in log
    assert 'Epoch(train) [1]' in log


@pytest.mark.parametrize('umask', [0o022, 0o027])
def test_written_files_get_the_mode_of_a_plain_write(tmp_path, umask):
    """Not the temporary file's 0o600: others may need to read checkpoints
    (a shared work dir, a cluster's evaluation job)."""
    previous = os.umask(umask)
    try:
        plain = tmp_path / 'plain.pth'
        plain.write_bytes(b'x')
        atomic_write_bytes(b'checkpoint', tmp_path / 'epoch_1.pth')
        mode = os.stat(tmp_path / 'epoch_1.pth').st_mode & 0o777
        assert mode == os.stat(plain).st_mode & 0o777 == 0o666 & ~umask
        os.chmod(tmp_path / 'epoch_1.pth', 0o600)
        atomic_write_bytes(b'again', tmp_path / 'epoch_1.pth')
        assert os.stat(tmp_path / 'epoch_1.pth').st_mode & 0o777 == 0o600
    finally:
        os.umask(previous)
