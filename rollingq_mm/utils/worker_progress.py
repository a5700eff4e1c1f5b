"""Name the sample a DataLoader worker was loading when it died.

A worker killed inside native code (a decoder crashing on a corrupt file, the
OOM killer) reaches the main process as PyTorch's ``DataLoader worker (pid(s)
N) exited unexpectedly`` or ``... is killed by signal``, without saying what
it was reading. Each worker writes its pid and the sample it starts into its
slot of a shared-memory table, so the main process can look the dead pids up
(:meth:`WorkerProgress.explain`).
"""
import multiprocessing
import os
import re
from typing import Optional

import torch.utils.data

#: Bytes per worker slot (longer descriptions are cut).
SLOT_BYTES = 1024
_WORKER_DEATH = re.compile(r'DataLoader worker \(pids?(?:\(s\))? ([\d, ]+)\)')


class WorkerProgress:
    """Per-worker record of the sample being loaded, in shared memory.

    Create it in the main process before the workers start (they inherit it,
    or get it pickled); workers call :meth:`start` and :meth:`finish` around
    each sample; the main process calls :meth:`explain` on a loader error.

    Args:
        num_workers (int): The loader's ``num_workers`` (>= 1).
    """

    def __init__(self, num_workers: int) -> None:
        if num_workers < 1:
            raise ValueError('WorkerProgress needs num_workers >= 1, got '
                             f'{num_workers}.')
        self.num_workers = num_workers
        self._table = multiprocessing.RawArray('c',
                                               num_workers * SLOT_BYTES)

    def _write(self, text: str) -> None:
        """Put ``text`` in the calling worker's slot (no-op elsewhere)."""
        info = torch.utils.data.get_worker_info()
        if info is None or info.id >= self.num_workers:
            return
        data = f'{os.getpid()}\t{text}'.encode()[:SLOT_BYTES - 1] + b'\0'
        start = info.id * SLOT_BYTES
        self._table[start:start + len(data)] = data

    def start(self, description: str) -> None:
        """Record that this worker starts loading ``description``."""
        self._write(description)

    def finish(self) -> None:
        """Record that this worker finished its sample."""
        self._write('')

    def loading(self, pid: int) -> Optional[str]:
        """What the worker with process id ``pid`` was loading, if anything."""
        for worker in range(self.num_workers):
            raw = bytes(self._table[worker * SLOT_BYTES:(worker + 1) *
                                    SLOT_BYTES]).split(b'\0', 1)[0]
            slot_pid, _, description = raw.decode(
                errors='replace').partition('\t')
            if slot_pid == str(pid) and description:
                return description
        return None

    def explain(self, error: BaseException) -> Optional[str]:
        """Name the samples the workers of a worker-death error were loading.

        Args:
            error (BaseException): An error raised by a DataLoader iterator.

        Returns:
            str | None: ``DataLoader worker (pid N) died while loading
            <sample>`` for each dead worker found busy, or None when
            ``error`` is no worker death or the worker was between samples.
        """
        match = _WORKER_DEATH.search(str(error))
        if match is None:
            return None
        found = []
        for pid in re.findall(r'\d+', match.group(1)):
            description = self.loading(int(pid))
            if description is not None:
                found.append(f'DataLoader worker (pid {pid}) died while '
                             f'loading {description}')
        return '; '.join(found) or None
