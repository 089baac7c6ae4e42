"""Checks for the exercises of notebook 01 (half layers)."""

from __future__ import annotations

__all__: list[str] = []
