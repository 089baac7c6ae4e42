"""The reproduction experiments: one chapter per paper, run by ``python -m rpnumpy``.

``python -m rpnumpy demo`` is the guided tour (:mod:`.demo`, a few minutes at reduced budgets);
``python -m rpnumpy reproduce NAME`` (or ``all``) runs chapters at full size. The models the
chapters (and the notebooks) train are built by :mod:`rpnumpy.models`.

How a chapter is made
---------------------
A chapter (:class:`.report.Chapter`, registered by :func:`.report.chapter` in its module, the
module listed in :data:`.report.CHAPTER_MODULES`) is an introduction and a list of sections. A
section (:class:`.report.Section`) is three functions:

``units(quick: bool) -> list[dict]``
    The configs of its units of work, in report order; ``quick`` asks for the small smoke-test
    size (subsets, one epoch). A config holds everything the result depends on (data set,
    model name, seed, epochs, learning rate, subset, ...), and only JSON values.
``run_unit(config: dict) -> dict``
    A pure function of the config, returning a JSON-serialisable result (NumPy scalars and
    arrays are converted). It loads data with :func:`.units.dataset`, may read another unit's
    result with :func:`.units.result_of` (from the store, or computed and stored now), and may
    write files for later units into :func:`.units.artifact_dir`. It prints nothing.
``render(ctx: RunContext, results: list[tuple[dict, dict]])``
    Writes the section's text, tables (``ctx.table``) and figures (``ctx.figure``) from the
    ``(config, result)`` pairs, in the order of ``units(ctx.quick)``. It computes nothing
    expensive and puts no wall-clock time of the run in the report unless a unit measured it.

and optionally ``cost(config) -> float`` (the unit's expected seconds on 2 cores, which weights
the progress display and its estimate of the time left) and ``label(config) -> str``.

The runner (:func:`.report.run_chapter`) lists the units of every section, reads the finished
ones from ``<report folder>/units/<name>-<hash>.json`` (the hash covers the function's name, the
config and ``rpnumpy.__version__``), runs the others, storing each atomically as it finishes,
then renders every section from the stored results. So an interrupted run loses at most the unit
in progress, a rerun resumes, and the report is the same either way. Two sections (even of two
chapters) that list the same config of the same function share one unit.

Adding a section to a chapter
-----------------------------
Write a module, say ``rpnumpy/experiments/my_study.py``, with ``units``, ``run_unit`` and
``render`` (and optionally ``cost`` and ``label``) as above, then add it to the chapter at the
end of the chapter's module (``snnk.py``, ``eugen.py``, ``prp.py``, ...)::

    from . import my_study  # noqa: E402

    CHAPTER.add_section(my_study)                      # the last section, named "my_study"
    CHAPTER.add_section(my_study, after="headline")    # or after a named section

(``CHAPTER.add_section(Section("name", units, run_unit, render, cost, label))`` takes functions
from anywhere.) The section's name (the module's last component) must be new in the chapter;
``python -m rpnumpy reproduce NAME`` then runs and renders it with the rest, and ``--quick``
runs its ``units(True)``. A chapter's summary file (``results_<chapter>.json``) is written by its
last section's render from ``ctx.results``; a new section adds its summary to
``ctx.results[<chapter>]`` before that, or writes its own file with ``ctx.write_json``.

Helpers for common units: :func:`.half.train_unit` (train a model named as in
:func:`rpnumpy.models.build_model` with Adam, batch 128, and score it; configs from
:func:`.half.train_configs`, summaries over seeds from :func:`.half.by_model`) and, for the EUGen
chapter, :func:`.eugen.teacher_unit` with :func:`.eugen.experiment` (trained teachers, loaded
from the store, and transfers shared within a process).
"""
