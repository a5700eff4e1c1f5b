"""Refuse to run on OpenMMLab versions this plugin was not built for."""
from importlib import metadata
from typing import Dict, Optional, Tuple

from packaging.version import Version

# For mmcv either distribution provides the ``mmcv`` package.
_DISTRIBUTIONS = {'mmcv': ('mmcv', 'mmcv-lite', 'mmcv-full')}


def installed_version(package: str) -> Optional[str]:
    """Version of the installed distribution that provides ``package``."""
    for dist in _DISTRIBUTIONS.get(package, (package, )):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


def check_versions(supported: Dict[str, Tuple[str, str]]) -> None:
    """Raise if a package is missing or outside ``[low, high)``.

    Args:
        supported (dict): package name -> (inclusive low, exclusive high).

    Raises:
        ImportError: naming the package, the installed and supported versions.
    """
    problems = []
    for package, (low, high) in supported.items():
        found = installed_version(package)
        if found is None:
            problems.append(f'{package} is not installed '
                            f'(rollingq_mm supports >={low},<{high})')
        elif not (Version(low) <= Version(Version(found).base_version)
                  < Version(high)):
            problems.append(f'{package}=={found} is installed, but '
                            f'rollingq_mm supports {package}>={low},<{high}')
    if problems:
        raise ImportError('Incompatible environment: ' + '; '.join(problems) +
                          '. Reinstall with: pip install -e ".[tests]"')
