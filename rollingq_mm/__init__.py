"""RollingQ (Ni et al., ICML 2025) for OpenMMLab audio-visual training.

Importing the package checks the installed OpenMMLab versions, applies the
compatibility fixes of :mod:`rollingq_mm.compat` and registers every component
into mmaction2's registries (scope ``mmaction``), so a config needs only
``custom_imports=dict(imports=['rollingq_mm'])``.
"""
from .version import SUPPORTED_VERSIONS, __version__
from .compat import check_versions, install_compat

check_versions(SUPPORTED_VERSIONS)
install_compat()

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401,E501

__all__ = ['__version__', 'SUPPORTED_VERSIONS']
