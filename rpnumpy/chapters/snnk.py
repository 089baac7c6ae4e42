"""Deprecated: this chapter moved to :mod:`rpnumpy.experiments.snnk`."""

from .._deprecation import warn_moved

warn_moved("rpnumpy.chapters.snnk", "rpnumpy.experiments.snnk")

from ..experiments.snnk import *  # noqa: E402, F403
