"""Checks for the exercises of notebook 03 (universal random features and SNNK)."""

from __future__ import annotations

__all__: list[str] = []
