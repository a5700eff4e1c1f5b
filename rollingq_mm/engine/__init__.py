"""engine of rollingq_mm: the hooks and the eval-mode statistics pass."""
from .air_statistics_pass import update_air_statistics
from .hooks import AIRHook, OGMGEHook, RNGStateHook, TrainingCurvesHook
from .hooks import PMRHook
from .prototype_pass import update_prototypes

__all__ = [
    'AIRHook', 'OGMGEHook', 'RNGStateHook', 'TrainingCurvesHook',
    'update_air_statistics', 'PMRHook', 'update_prototypes'
]
