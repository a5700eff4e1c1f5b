"""Test-only components: hooks that crash a run at a chosen point or measure
its memory per epoch, and a transform that crashes its loader worker.

Configs of the reliability tests load this module with
``custom_imports=dict(imports=['rollingq_mm', 'reliability_hooks'])`` (the
tests put this folder on ``PYTHONPATH``).
"""
import json
import os
import os.path as osp
import re
import resource
import signal

from mmaction.registry import HOOKS, TRANSFORMS
from mmcv.transforms import BaseTransform
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper


@HOOKS.register_module()
class KillAtIterationHook(Hook):
    """SIGKILL the own process once ``iteration`` training steps are done.

    A marker file in the work dir makes the kill happen once: the run
    restarted with ``--resume auto`` passes the same iteration unharmed.

    Args:
        iteration (int): Number of finished training iterations (counted
            over the whole run) after which the process dies.
    """

    priority = 'LOWEST'

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        """Die after the chosen iteration, the first time only."""
        marker = osp.join(runner.work_dir, 'killed_at_iteration')
        if runner.iter + 1 == self.iteration and not osp.exists(marker):
            with open(marker, 'w') as handle:
                handle.write(
                    f'epoch {runner.epoch + 1} iter {runner.iter + 1}')
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class KillDuringCheckpointWriteHook(Hook):
    """Kill the process in the middle of writing its ``save_index``-th save.

    Before that save, the process's file size limit (``RLIMIT_FSIZE``) is set
    to half the size of the biggest checkpoint already in the work dir, and
    ``SIGXFSZ`` back to its default action (Python ignores it): the kernel
    then terminates the process when the write passes that size, leaving
    the file being written cut in the middle, as a crash would.

    Args:
        save_index (int): 1-based count of ``runner.save_checkpoint`` calls
            (CheckpointHook saves ``epoch_1.pth``, then the best checkpoint
            and ``epoch_1.pth`` again after the first validation).
    """

    priority = 'LOWEST'

    def __init__(self, save_index: int) -> None:
        self.save_index = save_index
        self._saves = 0

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Arm the file size limit before the chosen save."""
        self._saves += 1
        marker = osp.join(runner.work_dir, 'killed_during_save')
        if self._saves != self.save_index or osp.exists(marker):
            return
        sizes = [osp.getsize(osp.join(runner.work_dir, name))
                 for name in os.listdir(runner.work_dir)
                 if name.endswith('.pth')]
        with open(marker, 'w') as handle:
            handle.write(f'save {self._saves}, limit {max(sizes) // 2}')
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (max(sizes) // 2, resource.RLIM_INFINITY))


def _status_kib(key: str) -> int:
    """A ``VmXXX`` value of /proc/self/status, in KiB."""
    with open('/proc/self/status') as handle:
        return int(re.search(rf'^{key}:\s+(\d+) kB', handle.read(),
                             re.M).group(1))


@HOOKS.register_module()
class EpochMemoryHook(Hook):
    """Record each epoch's peak RSS and the AIR statistics' size.

    The peak (``VmHWM``) is reset at the start of every epoch through
    ``/proc/self/clear_refs`` and read at its end; ``work_dir/memory.json``
    gets one row per epoch after the run.
    """

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.rows = []

    def before_train_epoch(self, runner) -> None:
        """Reset the peak RSS."""
        with open('/proc/self/clear_refs', 'w') as handle:
            handle.write('5')

    def after_train_epoch(self, runner) -> None:
        """Peak RSS, statistics sample count and tensor sizes."""
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        statistics = model.fusion_head.air_statistics
        sums = statistics._sums or {}
        self.rows.append(dict(
            epoch=runner.epoch + 1,
            peak_rss_kib=_status_kib('VmHWM'),
            rss_kib=_status_kib('VmRSS'),
            statistics_count=statistics.count,
            statistics_numel=sum(t.numel() for t in sums.values())))

    def after_run(self, runner) -> None:
        """Write the rows."""
        with open(osp.join(runner.work_dir, 'memory.json'), 'w') as handle:
            json.dump(self.rows, handle)


@TRANSFORMS.register_module()
class SegfaultOnAudioFile(BaseTransform):
    """Die by SIGSEGV on one audio file, as a decoder crashing on it would.

    Args:
        name (str): Base name of the audio file that crashes the process.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def transform(self, results: dict) -> dict:
        """Crash on the chosen file, pass every other sample through."""
        if osp.basename(str(results.get('audio_path'))) == self.name:
            os.kill(os.getpid(), signal.SIGSEGV)
        return results
