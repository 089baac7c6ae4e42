"""Deprecated: the chapters moved to :mod:`rpnumpy.experiments`."""
