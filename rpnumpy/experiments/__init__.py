"""The reproduction experiments: one chapter per paper, run by ``python -m rpnumpy``.

Each module registers a chapter with :func:`rpnumpy.experiments.report.chapter`; the models the
chapters (and the notebooks) train are built by :mod:`rpnumpy.models`.
"""
