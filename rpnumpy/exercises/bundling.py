"""Checks for the exercises of notebook 04 (network bundling and the closed form)."""

from __future__ import annotations

__all__: list[str] = []
