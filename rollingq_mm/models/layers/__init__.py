"""Layers of rollingq_mm's models."""
from .bottleneck_fusion import BottleneckFusion, PreNormEncoderLayer
from .cls_query_attention import CLSQueryAttention
from .modality_projection import ModalityProjection

__all__ = [
    'CLSQueryAttention', 'BottleneckFusion', 'PreNormEncoderLayer',
    'ModalityProjection'
]
