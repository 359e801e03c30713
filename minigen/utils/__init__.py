"""Utilities that sit above the engine: ``minigen.utils.data`` (Dataset, DataLoader)."""
from . import data

__all__ = ["data"]
