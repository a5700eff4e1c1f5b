"""WorkerProgress: real DataLoader workers record the sample they load, and
PyTorch's worker-death messages (both forms) are matched to it."""
import os

import pytest
from torch.utils.data import DataLoader, Dataset

from rollingq_mm.utils import WorkerProgress


class RecordsWithoutFinishing(Dataset):
    """Each item starts a sample in the progress table and returns the pid."""

    def __init__(self, progress: WorkerProgress) -> None:
        self.progress = progress

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> int:
        self.progress.start(f'sample {index} (clip_{index}.flac)')
        return os.getpid()


def test_dead_worker_pids_are_matched_to_their_sample():
    progress = WorkerProgress(num_workers=1)
    loader = DataLoader(RecordsWithoutFinishing(progress), num_workers=1,
                        batch_size=None)
    pid = next(iter(loader))
    assert pid != os.getpid()
    for message in (f'DataLoader worker (pid {pid}) is killed by signal: '
                    'Segmentation fault.',
                    f'DataLoader worker (pid(s) {pid}, 1) exited '
                    'unexpectedly'):
        assert progress.explain(RuntimeError(message)) == (
            f'DataLoader worker (pid {pid}) died while loading sample 0 '
            '(clip_0.flac)')
    assert progress.explain(RuntimeError('CUDA out of memory')) is None
    assert progress.explain(
        RuntimeError('DataLoader worker (pid 1) exited unexpectedly')) is None


def test_the_main_process_records_nothing():
    progress = WorkerProgress(num_workers=1)
    progress.start('sample 0')
    assert progress.loading(os.getpid()) is None
    with pytest.raises(ValueError, match='num_workers >= 1'):
        WorkerProgress(num_workers=0)
