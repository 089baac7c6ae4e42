"""Deprecated: this chapter moved to :mod:`rpnumpy.experiments.eugen`."""

from .._deprecation import warn_moved

warn_moved("rpnumpy.chapters.eugen", "rpnumpy.experiments.eugen")

from ..experiments.eugen import *  # noqa: E402, F403
