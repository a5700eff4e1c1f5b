"""engine of rollingq_mm: the hooks and the eval-mode statistics pass."""
from .air_statistics_pass import update_air_statistics
from .hooks import AIRHook, RNGStateHook, TrainingCurvesHook

__all__ = [
    'AIRHook', 'RNGStateHook', 'TrainingCurvesHook', 'update_air_statistics'
]
