"""Checks for the exercises of notebook 06 (verifying gradients)."""

from __future__ import annotations

__all__: list[str] = []
