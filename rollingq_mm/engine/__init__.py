"""engine of rollingq_mm: the hooks and the eval-mode statistics pass."""
from .air_statistics_pass import update_air_statistics
from .hooks import AIRHook, OGMGEHook, RNGStateHook, TrainingCurvesHook

__all__ = [
    'AIRHook', 'OGMGEHook', 'RNGStateHook', 'TrainingCurvesHook',
    'update_air_statistics'
]
