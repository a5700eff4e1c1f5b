"""Recognizers of rollingq_mm."""
from .audio_visual_recognizer import AudioVisualRecognizer

__all__ = ['AudioVisualRecognizer']
