"""Training hooks of rollingq_mm."""
from .air_hook import AIRHook
from .ogm_ge_hook import OGMGEHook
from .pmr_hook import PMRHook
from .rng_state_hook import RNGStateHook
from .training_curves_hook import TrainingCurvesHook

__all__ = [
    'AIRHook', 'OGMGEHook', 'PMRHook', 'RNGStateHook', 'TrainingCurvesHook'
]
