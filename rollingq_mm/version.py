"""Version of rollingq_mm and the OpenMMLab versions it is tested against."""

__version__ = '0.1.0'

# Inclusive lower / exclusive upper bounds, checked at import
# (see ``compat.version_gate``).
SUPPORTED_VERSIONS = {
    'mmengine': ('0.10.4', '0.11.0'),
    'mmcv': ('2.0.1', '2.2.0'),
    'mmpretrain': ('1.2.0', '1.3.0'),
    'mmaction2': ('1.2.0', '1.3.0'),
    'torch': ('2.1.0', '2.15.0'),
}
