"""Deprecated: the report machinery moved to :mod:`rpnumpy.experiments.report`."""

from ._deprecation import warn_moved

warn_moved("rpnumpy.report", "rpnumpy.experiments.report")

from .experiments.report import *  # noqa: E402, F403
from .experiments.report import __all__  # noqa: E402, F401
