"""Helpers of the models: position tables and the ViT checkpoint converter."""
from .pos_embed import image_to_video_pos_embed, resize_video_pos_embed

__all__ = ['image_to_video_pos_embed', 'resize_video_pos_embed']
