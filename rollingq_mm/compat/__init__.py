"""Fixes for known breakages of the OpenMMLab stack (see docs in each module).

:func:`install_compat` is called by ``import rollingq_mm``, hence by every
config that has ``custom_imports=dict(imports=['rollingq_mm'])``, also in
other people's projects: it applies only what the pinned stack cannot run
without. The crash-safe checkpoint files are opt-in (the ``'atomic_local'``
file backend, :func:`find_resumable_checkpoint` in ``tools/train.py``).
"""
from .checkpoint import (UnsafeCheckpointError,
                         install_safe_checkpoint_loading, safe_torch_load,
                         trusted_checkpoint_loading)
from .checkpoint_files import (ATOMIC_BACKEND, AtomicLocalBackend,
                               atomic_write_bytes, find_resumable_checkpoint,
                               is_complete_checkpoint)
from .distributed import install_cpu_distributed
from .mmaction_drn import DRNUnavailable, install_drn_placeholder
from .version_gate import check_versions, installed_version


def install_compat() -> None:
    """Apply every fix in this package; safe to call more than once."""
    install_drn_placeholder()
    install_safe_checkpoint_loading()
    install_cpu_distributed()


__all__ = [
    'install_compat', 'check_versions', 'installed_version',
    'safe_torch_load', 'trusted_checkpoint_loading', 'UnsafeCheckpointError',
    'DRNUnavailable', 'install_cpu_distributed', 'install_drn_placeholder',
    'install_safe_checkpoint_loading', 'atomic_write_bytes',
    'find_resumable_checkpoint', 'is_complete_checkpoint', 'ATOMIC_BACKEND',
    'AtomicLocalBackend'
]
