"""Checkpoint loading under torch >= 2.6, without trusting third-party pickles.

mmengine 0.10.7 calls ``torch.load(filename)``; torch >= 2.6 defaults to
``weights_only=True`` and refuses mmengine's own checkpoints (they pickle the
message hub's ``HistoryBuffer``). The rule applied here:

* ``Runner.resume`` (``--resume``, ``resume=True``) reads a checkpoint that a
  run of the user wrote itself: it is unpickled in full.
* Everything else (``load_from``, ``init_cfg=dict(type='Pretrained')``,
  ``tools/test.py CHECKPOINT``, the ViT converter) goes through torch's
  weights-only unpickler, extended by the few plain-data classes that
  mmengine's own checkpoints contain (:data:`MMENGINE_SAFE_GLOBALS`). A file
  that needs anything else (for example a pickle that would run code) is
  refused with :class:`UnsafeCheckpointError` naming the file.
"""
import contextlib
import contextvars
import pickle
import types
from typing import Any, Iterator

import numpy as np
import torch
from mmengine.logging.history_buffer import HistoryBuffer

_TRUSTED = contextvars.ContextVar('rollingq_trusted_checkpoint', default=False)


def history_buffer_statistic(owner: type, name: str) -> Any:
    """Stand-in for ``getattr`` in weights-only loads of mmengine checkpoints.

    mmengine pickles the message hub's ``HistoryBuffer`` objects with their
    statistics methods as ``getattr(HistoryBuffer, 'mean')``. Allowing the real
    ``getattr`` would open every attribute of every allowed object; this only
    resolves HistoryBuffer's statistics (the defaults and registered ones).
    """
    allowed = {'min', 'max', 'current', 'mean'} | set(
        HistoryBuffer._statistics_methods)
    if owner is HistoryBuffer and name in allowed:
        return getattr(owner, name)
    raise pickle.UnpicklingError(
        f'getattr({owner!r}, {name!r}) is not allowed in a weights-only load')


# Plain-data classes found in checkpoints written by mmengine's Runner.
MMENGINE_SAFE_GLOBALS = [
    HistoryBuffer,
    (history_buffer_statistic, 'builtins.getattr'),
    np.core.multiarray._reconstruct,
    np.core.multiarray.scalar,
    np.ndarray,
    np.dtype,
] + [type(np.dtype(t)) for t in (np.float64, np.float32, np.float16, np.int64,
                                 np.int32, np.int8, np.uint8, np.bool_)]


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint needs unpickling of objects that are not plain data."""


@contextlib.contextmanager
def trusted_checkpoint_loading() -> Iterator[None]:
    """Allow full unpickling for loads in this block (``Runner.resume``)."""
    token = _TRUSTED.set(True)
    try:
        yield
    finally:
        _TRUSTED.reset(token)


def safe_torch_load(f: Any, map_location: Any = None, **kwargs) -> Any:
    """``torch.load`` with the rule of this module (see its docstring).

    Raises:
        UnsafeCheckpointError: the file needs more than plain data and the
            load is not a resume.
    """
    if _TRUSTED.get():
        return torch.load(f, map_location=map_location, weights_only=False)
    with torch.serialization.safe_globals(MMENGINE_SAFE_GLOBALS):
        try:
            return torch.load(
                f, map_location=map_location, weights_only=True, **kwargs)
        except pickle.UnpicklingError as err:
            name = f if isinstance(f, str) else getattr(f, 'name', repr(f))
            reason = str(err).strip().splitlines()
            raise UnsafeCheckpointError(
                f'Refusing to load checkpoint {name}: it holds pickled '
                'objects that are not plain tensors or data, and unpickling '
                'them could run code '
                f'({reason[-1] if reason else "unknown reason"}). '
                'Weights named by load_from / init_cfg are loaded '
                'weights-only; resume your own runs with --resume, or save '
                'the weights as a plain state dict.') from err


class _CheckpointTorch(types.ModuleType):
    """``torch`` for ``mmengine.runner.checkpoint``, with a safe ``load``."""

    load = staticmethod(safe_torch_load)

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)


def install_safe_checkpoint_loading() -> None:
    """Route mmengine's checkpoint loads through :func:`safe_torch_load`."""
    from mmengine.runner import checkpoint as mm_checkpoint
    from mmengine.runner import runner as mm_runner

    if not isinstance(mm_checkpoint.torch, _CheckpointTorch):
        mm_checkpoint.torch = _CheckpointTorch('torch')
    resume = mm_runner.Runner.resume
    if getattr(resume, '__rollingq_trusted__', False):
        return

    def trusted_resume(self, *args, **kwargs):
        with trusted_checkpoint_loading():
            return resume(self, *args, **kwargs)

    trusted_resume.__rollingq_trusted__ = True
    trusted_resume.__doc__ = resume.__doc__
    mm_runner.Runner.resume = trusted_resume
