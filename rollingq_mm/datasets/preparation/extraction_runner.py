"""Run :func:`extract_clip` over many clips in worker processes."""
import logging
import os
import os.path as osp
from typing import List, Sequence

import cv2
import torch
from mmengine.logging import print_log
from mmengine.utils import track_parallel_progress, track_progress

from .clip_extraction import ClipResult, ClipTask, extract_clip


def single_threaded_worker() -> None:
    """Keep a forked worker to one torch / OpenCV thread.

    A child forked after the parent used OpenMP (torch, e.g. ``torch.stft``)
    hangs in its first parallel region; PyTorch's DataLoader workers avoid
    it the same way. The parallelism comes from the worker processes.
    """
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def write_failure_report(path: str, tasks: Sequence[ClipTask],
                         results: Sequence[ClipResult]) -> int:
    """Write the clips that failed, with their source and the reason.

    Args:
        path (str): The report file (tab-separated; overwritten).
        tasks (Sequence[ClipTask]): The tasks, in the order of ``results``.
        results (Sequence[ClipResult]): Their outcomes.

    Returns:
        int: The number of failed clips.
    """
    failed = [(task, result) for task, result in zip(tasks, results)
              if result.status == 'failed']
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('# clip_id\tvideo\taudio\tstage\treason\n')
        for task, result in failed:
            reason = ' '.join(result.reason.split())
            handle.write(f'{task.clip_id}\t{task.video}\t'
                         f'{task.audio or "-"}\t{result.stage}\t{reason}\n')
    return len(failed)


def run_extraction(tasks: Sequence[ClipTask], workers: int,
                   report_file: str) -> List[ClipResult]:
    """Extract every clip with a progress bar and report the failures.

    Args:
        tasks (Sequence[ClipTask]): The clips.
        workers (int): Worker processes; 1 runs in this process.
        report_file (str): Where the failed clips are listed.

    Returns:
        list[ClipResult]: One result per task, in task order.
    """
    if workers < 1:
        raise ValueError(f'workers must be >= 1, got {workers}')
    tasks = list(tasks)
    if not tasks:
        results = []
    elif workers == 1:
        results = track_progress(extract_clip, tasks)
    else:
        results = track_parallel_progress(
            extract_clip, tasks, nproc=min(workers, len(tasks)),
            initializer=single_threaded_worker, keep_order=True)
    num_failed = write_failure_report(report_file, tasks, results)
    counts = {status: sum(r.status == status for r in results)
              for status in ('done', 'skipped', 'failed')}
    print_log(
        f'{len(results)} clips: {counts["done"]} extracted, '
        f'{counts["skipped"]} already complete, {counts["failed"]} failed'
        + (f' (listed in {report_file})' if num_failed else ''),
        logger='current',
        level=logging.WARNING if num_failed else logging.INFO)
    return results
