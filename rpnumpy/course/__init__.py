"""Building the course around its notebooks: the student edition and the rendered book.

The notebooks in ``notebooks/`` follow the course's conventions: a first markdown cell with the
title, what you will learn, what you need to know first and how long it runs; exercises stated in
markdown cells tagged ``exercise``, each followed by a code cell tagged ``solution`` (imports and
function definitions only) and a one-line check from :mod:`rpnumpy.exercises`.

* :func:`~rpnumpy.course.student.build_student` writes the student edition: every function of a
  solution cell keeps its signature and docstring and gets the body
  ``raise NotImplementedError("Exercise N.k: write this function")``; outputs are cleared.
* :func:`~rpnumpy.course.figures.export_figures` writes the README's figures: the PNG output of
  every cell tagged ``figure:<name>`` to ``docs/figures/<name>.png``.
* :func:`~rpnumpy.course.book.build_book` writes the book: an ``index.html`` with the course's table
  and one HTML page per notebook, figures embedded, math typeset by a local copy of MathJax.

From the command line (``make student`` and ``make book``)::

    python -m rpnumpy.course student --out build/student
    python -m rpnumpy.course book --out build/book
    python -m rpnumpy.course figures --out docs/figures

``nbformat`` and ``nbconvert`` (the ``notebooks`` extra) are imported only when a build runs.
"""

from .book import build_book
from .figures import export_figures, notebook_figures
from .notebooks import CourseNotebook, read_course
from .student import SolutionCellError, build_student, stub_solution, student_notebook

__all__ = ["CourseNotebook", "SolutionCellError", "build_book", "build_student", "export_figures",
           "notebook_figures", "read_course", "student_notebook", "stub_solution"]
