"""RollingQ (Ni et al., ICML 2025) for OpenMMLab audio-visual training.

Importing the package checks the installed OpenMMLab versions, applies the
compatibility fixes of :mod:`rollingq_mm.compat` and registers every component
into mmaction2's registries (scope ``mmaction``), so a config needs only
``custom_imports=dict(imports=['rollingq_mm'])``.
"""
import warnings

# With mmcv-lite (the default install) mmcv's transformer module warns on
# import that the compiled MultiScaleDeformableAttention is missing; nothing
# in rollingq_mm uses it, so the notice is silenced. Anything that does use
# mmcv's compiled ops still fails when it imports them.
warnings.filterwarnings(
    'ignore', message='Fail to import ``MultiScaleDeformableAttention``',
    category=UserWarning)

from .version import SUPPORTED_VERSIONS, __version__  # noqa: E402
from .compat import check_versions, install_compat  # noqa: E402

check_versions(SUPPORTED_VERSIONS)
install_compat()

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401,E501

__all__ = ['__version__', 'SUPPORTED_VERSIONS']
