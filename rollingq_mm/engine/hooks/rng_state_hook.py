"""Hook that makes a resumed run draw the same random numbers as before."""
import multiprocessing
from typing import Any, Dict, List, Optional

import torch
from mmaction.registry import HOOKS
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook

from rollingq_mm.utils.rng_state import (SampleSeededPipeline, get_rng_state,
                                         set_rng_state)
from rollingq_mm.utils.worker_progress import WorkerProgress

#: Checkpoint key holding the saved generator states.
CHECKPOINT_KEY = 'rng_state'


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save and restore the random-number state, so resumes are exact.

    mmengine seeds the generators once per process and saves no generator
    state, so a run resumed from ``epoch_N.pth`` draws other dropout masks
    and data augmentations than the same run never interrupted. This hook
    removes every difference, for epoch-based training:

    * At the end of each training epoch it takes a snapshot of the global
      Python, NumPy, torch (and CUDA) generators of every rank, stores the
      list in every checkpoint (key ``rng_state``, one entry per rank; plain
      tensors and numbers, so weights-only loading still reads the file) and
      puts each rank's back at the start of the next epoch. Validation
      therefore never shifts the training streams, and a resumed run
      (restored when it continues from the checkpoint's epoch and iteration
      with as many ranks) starts its next epoch from the same state.
    * It gives the training DataLoader its own ``torch.Generator``, so that
      creating the loader's iterator (which happens once with persistent
      workers and every epoch without) draws nothing from the global stream.
    * With ``seed_per_sample`` the training pipeline runs under
      :class:`~rollingq_mm.utils.SampleSeededPipeline`: each sample's random
      transforms are seeded by (seed, epoch, sample index), which does not
      depend on the worker that loads it, on persistent workers, on the
      number of workers or ranks, or on a restart. Errors raised while
      loading a sample name it and its files, and so does the error raised
      when a loader worker dies (a decoder crash, the OOM killer) while
      loading one (:class:`~rollingq_mm.utils.WorkerProgress`).

    Exactness also needs deterministic kernels (``--deterministic``; on GPU
    cuDNN/cuBLAS settings) and the same number of ranks and threads.

    Args:
        seed_per_sample (bool): Seed the training pipeline per sample.
            Defaults to True.
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed_per_sample: bool = True) -> None:
        if not isinstance(seed_per_sample, bool):
            raise ValueError('RNGStateHook: seed_per_sample must be a bool, '
                             f'got {seed_per_sample!r}.')
        self.seed_per_sample = seed_per_sample
        self._snapshot: Optional[Dict[str, Any]] = None
        self._all_ranks: Optional[List[Dict[str, Any]]] = None
        self._loaded: Optional[Dict[str, Any]] = None
        self._epoch = multiprocessing.RawValue('q', 0)
        self._progress: Optional[WorkerProgress] = None

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the checkpoint's generator states for a resume."""
        state = checkpoint.get(CHECKPOINT_KEY)
        meta = checkpoint.get('meta') or {}
        self._loaded = None
        if state is not None:
            self._loaded = dict(state=state, epoch=meta.get('epoch'),
                                iter=meta.get('iter'))

    def _wrap_pipelines(self, runner, dataset) -> int:
        """Seed the pipeline of ``dataset`` and of the datasets it wraps."""
        wrapped = 0
        pipeline = getattr(dataset, 'pipeline', None)
        if callable(pipeline):
            if isinstance(pipeline, SampleSeededPipeline):
                pipeline = pipeline.pipeline
            dataset.pipeline = SampleSeededPipeline(
                pipeline, runner.seed, self._epoch, self._progress)
            wrapped += 1
        inner = list(getattr(dataset, 'datasets', None) or [])
        if getattr(dataset, 'dataset', None) is not None:
            inner.append(dataset.dataset)
        for child in inner:
            wrapped += self._wrap_pipelines(runner, child)
        return wrapped

    def before_train(self, runner) -> None:
        """Isolate the loader, seed its pipeline, restore a resumed state."""
        loader = runner.train_dataloader
        loader.generator = torch.Generator().manual_seed(runner.seed)
        if self.seed_per_sample and loader.num_workers > 0:
            self._progress = WorkerProgress(loader.num_workers)
            self._name_dead_workers(runner.train_loop, self._progress)
        if self.seed_per_sample and not self._wrap_pipelines(
                runner, loader.dataset):
            runner.logger.warning(
                'RNGStateHook: the training dataset has no pipeline to seed '
                'per sample; its random transforms are not resumed exactly.')
        loaded = self._loaded
        if loaded is not None and (loaded['epoch'], loaded['iter']) == (
                runner.epoch, runner.iter):
            self._restore(runner, loaded['state'])
        self._loaded = None
        self._take_snapshot()

    @staticmethod
    def _name_dead_workers(loop, progress: WorkerProgress) -> None:
        """Make the loop's worker-death errors name the sample being loaded.

        A worker that dies (e.g. by a signal in a decoder) is reported by
        PyTorch anywhere in the epoch, by its pid only; this wraps the loop's
        ``run_epoch`` to add what ``progress`` says that pid was loading.
        """
        run_epoch = loop.run_epoch
        if getattr(run_epoch, 'names_dead_workers', False):
            return

        def run_epoch_naming_dead_workers():
            try:
                return run_epoch()
            except RuntimeError as error:
                message = progress.explain(error)
                if message is None:
                    raise
                raise RuntimeError(f'{message} ({error})') from error

        run_epoch_naming_dead_workers.names_dead_workers = True
        loop.run_epoch = run_epoch_naming_dead_workers

    @staticmethod
    def _restore(runner, states: List[Dict[str, Any]]) -> None:
        """Apply this rank's entry of a checkpoint's per-rank states."""
        if len(states) != get_world_size():
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds the random-number states '
                f'of {len(states)} rank(s), this run has {get_world_size()}: '
                'the resumed run draws other random numbers than the '
                'interrupted one would have.')
            return
        set_rng_state(states[get_rank()])
        runner.logger.info(
            'RNGStateHook: restored the random-number state saved at '
            f'epoch {runner.epoch}, iteration {runner.iter}.')

    def _take_snapshot(self) -> None:
        """This rank's state, and every rank's for the checkpoints."""
        self._snapshot = get_rng_state()
        self._all_ranks = all_gather_object(self._snapshot)

    def before_train_epoch(self, runner) -> None:
        """Start the epoch from the state the previous one ended with."""
        set_rng_state(self._snapshot)
        self._epoch.value = runner.epoch

    def after_train_epoch(self, runner) -> None:
        """Snapshot the state the next epoch and the checkpoint start from."""
        self._take_snapshot()

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store every rank's snapshot in the checkpoint (rank 0 saves)."""
        checkpoint[CHECKPOINT_KEY] = (
            self._all_ranks if self._all_ranks is not None else
            [get_rng_state()])
