"""Checks for the exercises of notebook 02 (PRP layers and Johnson-Lindenstrauss)."""

from __future__ import annotations

__all__: list[str] = []
