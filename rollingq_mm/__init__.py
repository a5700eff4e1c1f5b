"""RollingQ (Ni et al., ICML 2025) for OpenMMLab audio-visual training.

Importing the package checks the installed OpenMMLab versions, applies the
fixes of :mod:`rollingq_mm.compat` that the pinned stack cannot run without
(the mmaction2 wheel's missing ``drn`` module, mmengine checkpoint loading
under torch >= 2.6, distributed training without CUDA) and registers every
component into mmaction2's registries (scope ``mmaction``), so a config
needs only ``custom_imports=dict(imports=['rollingq_mm'])``. Nothing else
of mmengine changes: atomic checkpoint writes, the checked ``--resume auto``
and the other reliability features are opt-in (docs/reliability.md).
"""
import warnings

from .version import SUPPORTED_VERSIONS, __version__
from .compat import check_versions, install_compat

check_versions(SUPPORTED_VERSIONS)
install_compat()

# With mmcv-lite (the default install) mmcv's transformer module warns on
# import that the compiled MultiScaleDeformableAttention is missing; nothing
# in rollingq_mm uses it. The notice is silenced for the imports below only:
# the filter is removed afterwards (filters that the imported libraries add
# themselves stay, which warnings.catch_warnings() would drop).
warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``',
    category=UserWarning)
_MMCV_LITE_FILTER = warnings.filters[0]
try:
    from . import datasets, engine, evaluation, models, visualization  # noqa: F401,E501
finally:
    warnings.filters.remove(_MMCV_LITE_FILTER)
    warnings._filters_mutated()
    del _MMCV_LITE_FILTER

__all__ = ['__version__', 'SUPPORTED_VERSIONS']
