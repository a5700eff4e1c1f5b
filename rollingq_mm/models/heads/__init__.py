"""Fusion heads of rollingq_mm."""
from .base_av_head import BaseAVHead
from .concat_fusion_head import ConcatFusionHead
from .mbt_fusion_head import MBTFusionHead
from .rollingq_fusion_head import RollingQFusionHead
from .unimodal_head import UnimodalHead

__all__ = [
    'BaseAVHead', 'RollingQFusionHead', 'ConcatFusionHead', 'UnimodalHead',
    'MBTFusionHead'
]
