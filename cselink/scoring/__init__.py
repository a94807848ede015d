"""Scoring: Fellegi-Sunter weights, EM over pattern counts, and the model file."""

from .model import Model

__all__ = ["Model"]
