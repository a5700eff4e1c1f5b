"""engine of rollingq_mm."""
from .hooks import AIRHook, RNGStateHook, TrainingCurvesHook  # noqa: F401
