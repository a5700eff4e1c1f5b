"""engine of rollingq_mm."""
from .hooks import AIRHook  # noqa: F401
