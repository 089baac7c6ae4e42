"""The course's exercises: each one a function the student writes, and a check of it.

A check takes the student's function, runs it on a few inputs (an awkward shape among them),
compares what it returns with rpnumpy's own computation or with central differences, and returns
a :class:`~rpnumpy.exercises.feedback.Feedback`: which output is wrong, for which input, by how much
and where, and a hint, never the solution. A function that still raises ``NotImplementedError``
(the student edition's stub) gets "not implemented yet", and the notebook goes on.

In a notebook::

    from rpnumpy.exercises import check_affine_backward

    def affine_backward(dout, cache):      # the student's answer
        ...

    check_affine_backward(affine_backward)  # shows the verdict

The checks are grouped by notebook, one module each (:mod:`~rpnumpy.exercises.foundations` for
notebook 00, :mod:`~rpnumpy.exercises.half` for 01, ...); every check passes the reference solution
in its notebook and fails plausible wrong answers (``tests/test_exercises.py``).
"""

from . import bundling, eugen, features, foundations, gradients, half, prp
from .bundling import *  # noqa: F403
from .eugen import *  # noqa: F403
from .features import *  # noqa: F403
from .feedback import Feedback
from .foundations import *  # noqa: F403
from .gradients import *  # noqa: F403
from .half import *  # noqa: F403
from .prp import *  # noqa: F403

__all__ = ["Feedback"] + [name for module in (foundations, half, prp, features, bundling, eugen, gradients)
                          for name in module.__all__]
