"""Utilities with the torch.utils names (`nnkernels.utils.data.DataLoader`)."""
from . import data  # noqa: F401

__all__ = ["data"]
