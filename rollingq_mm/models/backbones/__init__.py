"""Backbones of rollingq_mm (the paper's towers where mmpretrain needs help)."""
from .video_vision_transformer import VideoVisionTransformer

__all__ = ['VideoVisionTransformer']
