"""Evaluation of rollingq_mm: attention and modality-contribution metrics."""
from .metrics import AttentionShareMetric, ModalityContributionMetric

__all__ = ['AttentionShareMetric', 'ModalityContributionMetric']
