"""Deprecated: the layer cases moved to :mod:`rpnumpy.testing.cases`."""

from ._deprecation import warn_moved

warn_moved("rpnumpy.layer_cases", "rpnumpy.testing.cases")

from .testing.cases import *  # noqa: E402, F403
from .testing.cases import __all__  # noqa: E402, F401
