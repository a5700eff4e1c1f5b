"""Random-number state: capture and restore it, and per-sample pipelines.

mmengine seeds the generators once per process and does not save their
state in checkpoints; :class:`~rollingq_mm.engine.RNGStateHook` uses these
helpers to make a resumed run draw the same numbers as an uninterrupted one.

:class:`SampleSeededPipeline` gives each (epoch, sample) its own random
streams, so random data transforms do not depend on which DataLoader worker
runs them, on how long that worker has lived (persistent workers), on the
number of workers or ranks, or on a restart.
"""
import random
from typing import Any, Callable, Dict, Optional, Sequence

import numpy as np
import torch

from .sample_random import sample_seed
from .worker_progress import WorkerProgress

#: Info keys whose values name a sample's media files (for error notes).
MEDIA_KEYS = ('filename', 'frame_dir', 'img_path', 'audio_path')


def get_rng_state(cuda: bool = True) -> Dict[str, Any]:
    """The state of Python's, NumPy's and torch's global generators.

    The state is plain Python data (tuples, ints, floats, ``bytes``), no
    tensors: a checkpoint holding it still loads weights-only, and loading
    it with any ``map_location`` (mmengine's resume maps onto the current
    CUDA device) leaves it unchanged.

    Args:
        cuda (bool): Include the CUDA generators when CUDA is available.
            False for code that runs in DataLoader workers: a worker forked
            from a process that initialised CUDA still reports CUDA as
            available, but any CUDA generator call there raises "Cannot
            re-initialize CUDA in forked subprocess". Defaults to True.

    Returns:
        dict: ``python`` (tuple), ``numpy`` (dict; ``keys`` the uint32 key
        as bytes), ``torch`` (bytes) and, with ``cuda`` and CUDA available,
        ``cuda`` (list of bytes, one per device).
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=dict(kind=kind, keys=keys.astype(np.uint32).tobytes(),
                   pos=int(pos), has_gauss=int(has_gauss),
                   cached_gaussian=float(cached)),
        torch=torch.get_rng_state().numpy().tobytes())
    if cuda and torch.cuda.is_available():
        state['cuda'] = [
            generator.numpy().tobytes()
            for generator in torch.cuda.get_rng_state_all()
        ]
    return state


def _on_cpu(value: Any, name: str) -> Any:
    """A saved state entry as bytes or a CPU tensor.

    :func:`get_rng_state` saves bytes; a checkpoint may also hold tensors
    (docs/reliability.md), which come back on whatever device the checkpoint
    was loaded onto.
    """
    if not isinstance(value, torch.Tensor):
        return value
    if value.device.type == 'meta':
        raise ValueError(
            f'The saved random-number state {name!r} is a tensor on the '
            "'meta' device, which holds no data: the checkpoint was written "
            "before states were saved as bytes, and loaded with "
            "map_location='meta'.")
    return value.detach().cpu()


def _generator_state(value: Any, name: str) -> torch.Tensor:
    """The CPU uint8 tensor that torch's generator setters take."""
    value = _on_cpu(value, name)
    if isinstance(value, torch.Tensor):
        return value.to(torch.uint8)
    return torch.frombuffer(bytearray(value), dtype=torch.uint8)


def set_rng_state(state: Dict[str, Any]) -> None:
    """Restore a state returned by :func:`get_rng_state`.

    Args:
        state (dict): The state. A ``cuda`` entry is applied only when as
            many CUDA devices are visible as it holds; a state without one
            leaves the CUDA generators alone.
    """
    random.setstate(state['python'])
    numpy = state['numpy']
    keys = _on_cpu(numpy['keys'], 'numpy')
    keys = (keys.numpy() if isinstance(keys, torch.Tensor) else
            np.frombuffer(keys, dtype=np.uint32))
    np.random.set_state(
        (numpy['kind'], keys.astype(np.uint32), numpy['pos'],
         numpy['has_gauss'], numpy['cached_gaussian']))
    torch.set_rng_state(_generator_state(state['torch'], 'torch'))
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() and \
            len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(
            [_generator_state(value, 'cuda') for value in cuda])


def describe_sample(results: dict) -> str:
    """``sample <idx> (<media files>)`` for error messages."""
    files = [str(results[key]) for key in MEDIA_KEYS if results.get(key)]
    return (f'sample {results.get("sample_idx")} '
            f'({", ".join(files) or "no media path"})')


class SampleSeededPipeline:
    """A data pipeline run under the random streams of its (epoch, sample).

    Before the wrapped pipeline runs on a sample, Python's ``random``,
    NumPy's global generator and torch's CPU generator are seeded with
    :func:`sample_seed` ``(seed, epoch, results['sample_idx'])``; afterwards
    their previous states are put back, so the caller's streams (e.g. the
    dropout of a ``num_workers=0`` run) are untouched. An exception raised by
    the pipeline gets a note naming the sample and its media files (the
    note is kept in the error a DataLoader worker sends to the main process),
    and with ``progress`` each worker records the sample it loads, so a
    worker that dies in native code can be reported with it.

    Args:
        pipeline (callable): The dataset's pipeline (``Compose``).
        seed (int): The run's seed.
        epoch (multiprocessing.RawValue): Shared integer whose ``value`` is
            the current 0-based epoch, read per sample, so DataLoader workers
            (persistent ones too) see the main process's updates.
        progress (WorkerProgress, optional): Where workers record the sample
            they load. Defaults to None.
    """

    def __init__(self, pipeline: Callable[[dict], Optional[dict]], seed: int,
                 epoch: Any, progress: Optional[WorkerProgress] = None
                 ) -> None:
        self.pipeline = pipeline
        self.seed = seed
        self.epoch = epoch
        self.progress = progress

    def __call__(self, results: dict) -> Optional[dict]:
        """Run the wrapped pipeline on one sample's info dict.

        Args:
            results (dict): The info dict, with ``sample_idx``.

        Returns:
            dict | None: What the wrapped pipeline returns.
        """
        if 'sample_idx' not in results:
            raise KeyError('SampleSeededPipeline needs results["sample_idx"] '
                           '(set by mmengine BaseDataset.get_data_info).')
        seed = sample_seed(self.seed, self.epoch.value,
                           int(results['sample_idx']))
        description = describe_sample(results)
        if self.progress is not None:
            self.progress.start(description)
        saved = get_rng_state(cuda=False)
        try:
            random.seed(seed)
            np.random.seed(seed % 2**32)
            torch.default_generator.manual_seed(seed)
            return self.pipeline(results)
        except Exception as error:
            error.add_note(f'while loading {description}')
            raise
        finally:
            set_rng_state(saved)
            if self.progress is not None:
                self.progress.finish()

    @property
    def transforms(self) -> Sequence:
        """The transforms of the wrapped pipeline."""
        return self.pipeline.transforms

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(seed={self.seed}, '
                f'pipeline={self.pipeline!r})')
