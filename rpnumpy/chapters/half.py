"""Deprecated: this chapter moved to :mod:`rpnumpy.experiments.half`."""

from .._deprecation import warn_moved

warn_moved("rpnumpy.chapters.half", "rpnumpy.experiments.half")

from ..experiments.half import *  # noqa: E402, F403
