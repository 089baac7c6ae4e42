"""Checks for the exercises of notebook 05 (EUGen)."""

from __future__ import annotations

__all__: list[str] = []
