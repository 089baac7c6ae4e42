"""Deprecated: the gradient-check exchange files moved to :mod:`rpnumpy.testing.exchange`."""

from ._deprecation import warn_moved

warn_moved("rpnumpy.exchange", "rpnumpy.testing.exchange")

from .testing.exchange import *  # noqa: E402, F403
from .testing.exchange import __all__  # noqa: E402, F401
