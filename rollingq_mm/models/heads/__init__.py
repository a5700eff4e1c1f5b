"""Fusion heads of rollingq_mm."""
from .base_av_head import BaseAVHead
from .rollingq_fusion_head import RollingQFusionHead

__all__ = ['BaseAVHead', 'RollingQFusionHead']
