"""Deprecated: this chapter moved to :mod:`rpnumpy.experiments.foundations`."""

from .._deprecation import warn_moved

warn_moved("rpnumpy.chapters.foundations", "rpnumpy.experiments.foundations")

from ..experiments.foundations import *  # noqa: E402, F403
