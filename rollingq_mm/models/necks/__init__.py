"""Necks that turn encoder outputs into fusion tokens."""
from .token_neck import TokenNeck

__all__ = ['TokenNeck']
