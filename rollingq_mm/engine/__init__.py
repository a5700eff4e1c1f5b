"""engine of rollingq_mm."""
from .hooks import AIRHook, TrainingCurvesHook  # noqa: F401
