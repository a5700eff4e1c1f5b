"""Training hooks of rollingq_mm."""
from .air_hook import AIRHook
from .training_curves_hook import TrainingCurvesHook

__all__ = ['AIRHook', 'TrainingCurvesHook']
