"""Chapters of the main job's report (see :mod:`rpnumpy.report`)."""
