"""Deprecated: this chapter moved to :mod:`rpnumpy.experiments.prp`."""

from .._deprecation import warn_moved

warn_moved("rpnumpy.chapters.prp", "rpnumpy.experiments.prp")

from ..experiments.prp import *  # noqa: E402, F403
