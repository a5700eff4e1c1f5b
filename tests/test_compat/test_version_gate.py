"""The version gate names installed and supported versions."""
import pytest

from rollingq_mm import SUPPORTED_VERSIONS
from rollingq_mm.compat import check_versions, installed_version


def test_installed_stack_passes():
    check_versions(SUPPORTED_VERSIONS)
    assert installed_version('mmcv') is not None


def test_too_new_version_is_named():
    found = installed_version('mmengine')
    with pytest.raises(ImportError) as err:
        check_versions({'mmengine': ('0.1.0', '0.2.0')})
    assert f'mmengine=={found} is installed' in str(err.value)
    assert 'mmengine>=0.1.0,<0.2.0' in str(err.value)


def test_missing_package_is_named():
    with pytest.raises(ImportError, match='not-a-package is not installed'):
        check_versions({'not-a-package': ('1.0', '2.0')})
