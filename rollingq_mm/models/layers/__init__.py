"""Layers of rollingq_mm's models."""
from .cls_query_attention import CLSQueryAttention

__all__ = ['CLSQueryAttention']
