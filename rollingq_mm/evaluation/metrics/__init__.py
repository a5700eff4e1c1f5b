"""Evaluation metrics of rollingq_mm (use beside mmaction2's AccMetric)."""
from .attention_share_metric import AttentionShareMetric
from .modality_contribution_metric import ModalityContributionMetric

__all__ = ['AttentionShareMetric', 'ModalityContributionMetric']
