"""Crash-safe checkpoint files: atomic writes and a resume that checks them.

mmengine 0.10.7 writes a checkpoint with ``open(path, 'wb').write(...)``
(``LocalBackend.put``) and then names it in ``<work_dir>/last_checkpoint``,
which ``--resume auto`` reads. A process killed during the write leaves a
truncated file; when that file already had its name in ``last_checkpoint``
(``CheckpointHook`` re-saves ``epoch_N.pth`` after a new best validation
score, and ``max_keep_ckpts=1`` deletes the previous checkpoint before the
new one is written), the next ``--resume auto`` picks it up and fails.

Two remedies, both opt-in (``import rollingq_mm`` changes neither
mmengine's ``LocalBackend`` nor its ``find_latest_checkpoint``):

* :class:`AtomicLocalBackend`, registered as the mmengine file backend
  ``'atomic_local'``: a config asks for it with
  ``default_hooks.checkpoint.backend_args=dict(backend='atomic_local')``
  (``configs/_base_/default_runtime.py`` does). Its ``put`` / ``put_text``
  (:func:`atomic_write_bytes`) write to a temporary file in the same folder,
  flush it to disk (``fsync``) and rename it over the target
  (``os.replace``), so a reader sees the old file or the complete new one,
  never a part. Through ``CheckpointHook(backend_args=...)`` this covers
  every checkpoint and best checkpoint the hook saves; ``last_checkpoint``
  is written by mmengine with a plain ``open`` whatever the backend.
* :func:`find_resumable_checkpoint`, which ``tools/train.py --resume auto``
  calls instead of mmengine's ``find_latest_checkpoint``: it resumes the
  file named in ``last_checkpoint`` only if that file is a complete
  checkpoint, and otherwise (empty or torn ``last_checkpoint``, missing or
  truncated file) the newest complete training checkpoint in the work dir,
  with a warning.
"""
import logging
import os
import os.path as osp
import stat
import tempfile
import zipfile
from typing import Optional, Union

from mmengine.fileio import LocalBackend, register_backend
from mmengine.logging import print_log

#: Name of :class:`AtomicLocalBackend` in mmengine's file backends.
ATOMIC_BACKEND = 'atomic_local'
#: Prefix of the temporary files :func:`atomic_write_bytes` writes.
TMP_PREFIX = '.tmp-'


def _new_file_mode(path: str) -> int:
    """The mode ``open(path, 'w')`` would leave: the existing file's, else
    0o666 less the process's umask (a temporary file is created 0o600)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux allows
    (``os.umask`` can only be read by setting it, which races with other
    threads creating files)."""
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def atomic_write_bytes(data: bytes, path: Union[str, os.PathLike]) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file.

    The file gets the permissions a plain write would give it (the previous
    file's, else those of the user's umask), not the temporary file's 0o600.

    Args:
        data (bytes): The whole content.
        path (str | PathLike): The target; its folder is created if needed.
    """
    path = os.fspath(path)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, tmp_path = tempfile.mkstemp(
        prefix=TMP_PREFIX + osp.basename(path) + '.', dir=folder)
    try:
        os.fchmod(handle, _new_file_mode(path))
        with os.fdopen(handle, 'wb') as tmp_file:
            tmp_file.write(data)
            tmp_file.flush()
            os.fsync(tmp_file.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.remove(tmp_path)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def is_complete_checkpoint(path: Union[str, os.PathLike]) -> bool:
    """Whether ``path`` is a whole checkpoint written by ``torch.save``.

    ``torch.save`` writes a zip archive whose central directory comes last,
    so a file cut anywhere fails to open as a zip. (The legacy pickle format
    is not written by torch >= 1.6 and is not accepted here.)

    Args:
        path (str | PathLike): The file.

    Returns:
        bool: True for a readable, complete archive.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile):
        return False


def _training_checkpoints(work_dir: str) -> list:
    """``*.pth`` files of ``work_dir`` that a run can resume, newest first.

    Best-score checkpoints (``best_*``, saved without optimizer) and
    temporary files are left out.
    """
    names = [
        name for name in os.listdir(work_dir)
        if name.endswith('.pth') and not name.startswith(('best_', '.'))
        and osp.isfile(osp.join(work_dir, name))
    ]
    paths = [osp.join(work_dir, name) for name in names]
    return sorted(paths, key=lambda p: (osp.getmtime(p), p), reverse=True)


def find_resumable_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint ``--resume auto`` should continue from, or None.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        str | None: The file named in ``last_checkpoint`` if it is complete;
        else the newest complete training checkpoint of ``work_dir``; None
        when there is none (the run starts from scratch).
    """
    record = osp.join(work_dir, 'last_checkpoint')
    named = ''
    if osp.isfile(record):
        with open(record) as handle:
            named = handle.read().strip()
    if named and is_complete_checkpoint(named):
        return named
    if not osp.isdir(work_dir):
        return None
    for path in _training_checkpoints(work_dir):
        if is_complete_checkpoint(path):
            reason = (f'names {named}, which is missing or incomplete'
                      if named else 'is missing or empty')
            print_log(
                f'{record} {reason}; resuming from {path}, the newest '
                'complete checkpoint in the work dir.',
                logger='current', level=logging.WARNING)
            return path
    if named:
        print_log(
            f'{record} names {named}, which is missing or incomplete, and '
            f'{work_dir} holds no complete checkpoint: starting from scratch.',
            logger='current', level=logging.WARNING)
    return None


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """mmengine's ``LocalBackend`` whose writes are atomic.

    ``put`` and ``put_text`` go through :func:`atomic_write_bytes`; reading,
    listing and removing are ``LocalBackend``'s. Name it in a config with
    ``backend_args=dict(backend='atomic_local')``, e.g. on the
    ``CheckpointHook``.
    """

    def put(self, obj: bytes, filepath: Union[str, os.PathLike]) -> None:
        """Write ``obj`` to ``filepath`` atomically."""
        atomic_write_bytes(obj, filepath)

    def put_text(self, obj: str, filepath: Union[str, os.PathLike],
                 encoding: str = 'utf-8') -> None:
        """Write the text ``obj`` to ``filepath`` atomically."""
        atomic_write_bytes(obj.encode(encoding), filepath)
