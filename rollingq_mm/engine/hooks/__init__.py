"""Training hooks of rollingq_mm."""
from .air_hook import AIRHook

__all__ = ['AIRHook']
