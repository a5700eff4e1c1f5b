"""Evaluation of rollingq_mm: attention and modality-contribution metrics,
and the test-time modality ablation the latter reads."""
from .metrics import AttentionShareMetric, ModalityContributionMetric
from .modality_ablation import ModalityAblationTTA

__all__ = [
    'AttentionShareMetric', 'ModalityContributionMetric',
    'ModalityAblationTTA'
]
