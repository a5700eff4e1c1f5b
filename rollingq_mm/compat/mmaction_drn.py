"""Work around the incomplete mmaction2 1.2.0 wheel.

See open-mmlab/mmaction2#2714. The wheel ships
``mmaction/models/localizers/__init__.py``, which runs
``from .drn.drn import DRN``, but not the ``drn`` package itself, so every
``import mmaction.models`` fails. :class:`DRNPlaceholderFinder` serves a
placeholder for exactly those two module names. It sits last on
``sys.meta_path``, so it is only asked when no other finder located them: a
complete install (from source) is left untouched. The placeholder registers
nothing: ``type='DRN'`` in a config still fails in the registry, and using the
placeholder class directly raises a clear error.
"""
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Optional, Sequence

DRN_PACKAGE = 'mmaction.models.localizers.drn'
DRN_MODULE = DRN_PACKAGE + '.drn'


class DRNUnavailable:
    """Stands in for mmaction2's ``DRN`` localizer, which the wheel lacks."""

    def __init__(self, *args, **kwargs) -> None:
        raise ImportError(
            'mmaction2 DRN is not available: the installed mmaction2 wheel '
            'lacks mmaction/models/localizers/drn '
            '(open-mmlab/mmaction2#2714). '
            'Install mmaction2 from source to use DRN.')


class DRNPlaceholderFinder(importlib.abc.MetaPathFinder,
                           importlib.abc.Loader):
    """Meta-path finder serving placeholder ``drn`` modules when missing."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]],
                  target: Optional[ModuleType] = None):
        if fullname not in (DRN_PACKAGE, DRN_MODULE):
            return None
        return importlib.machinery.ModuleSpec(
            fullname, self, is_package=fullname == DRN_PACKAGE)

    def create_module(self, spec):
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.__rollingq_placeholder__ = True
        if module.__name__ == DRN_MODULE:
            module.DRN = DRNUnavailable
        else:
            module.__path__ = []


def install_drn_placeholder() -> None:
    """Append :class:`DRNPlaceholderFinder` to ``sys.meta_path`` once."""
    if not any(isinstance(f, DRNPlaceholderFinder) for f in sys.meta_path):
        sys.meta_path.append(DRNPlaceholderFinder())
