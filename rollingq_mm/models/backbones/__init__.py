"""Backbones of rollingq_mm: the paper's video tower."""
from .video_vision_transformer import VideoVisionTransformer

__all__ = ['VideoVisionTransformer']
