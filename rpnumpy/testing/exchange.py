r"""Gradient-check exchange files: one layer's inputs, parameters, outputs and gradients in one ``.npz``.

People checking their own implementation of a layer (in PyTorch, JAX, C, ...) and people checking
rpnumpy both need the same thing: a forward and a backward pass of one layer on fixed data, written
down completely. An exchange file holds exactly that. ``python -m rpnumpy gradcheck --out DIR``
writes one for every registered layer case (:mod:`rpnumpy.testing.cases`); ``python -m rpnumpy
gradcheck --compare FILE_OR_DIR`` recomputes a file produced elsewhere with rpnumpy and prints a
relative-error table per array, exiting with status 0 if every file was compared and agrees, 1 if
any file mismatched, and 2 if any file could not be used (see "What ``--compare`` does").

The loss
--------
All gradients are those of the scalar :math:`L = \langle f(x;\theta), \delta\rangle = \sum f(x;\theta)
\odot \delta`, for the file's upstream gradient :math:`\delta` (``upstream``). So ``grad_input`` is
what a framework's backward pass returns for the output gradient :math:`\delta`: in PyTorch,
``y.backward(delta)`` then ``x.grad``.

File layout (format ``rpnumpy-gradcheck``, version 1)
-----------------------------------------------------
A plain NumPy ``.npz`` archive; every entry is an ordinary array, read with
``np.load(path, allow_pickle=False)``::

    format           0-d str   "rpnumpy-gradcheck"
    format_version   0-d int   1
    case             0-d str   the case's name, e.g. "PRP[gaussian]"
    layer            0-d str   JSON {"class": ..., "config": ...}: the rpnumpy layer (its get_config(),
                               with the seeds of its random matrices)
    producer         0-d str   free text: who computed output and gradients ("rpnumpy 0.1.0", "torch 2.13.0")
    input            float64   x, one sample per row (images: n, channels, height, width)
    upstream         float64   δ = ∂L/∂y, the output's shape
    output           float64   y = f(x; θ)
    grad_input       float64   ∂L/∂x, the input's shape (absent for a layer that computes no input
                               gradient by design, such as rpnumpy.bundling.InputTower)
    param/<name>     float64   every trainable parameter θ, by rpnumpy's names
    grad/<name>      float64   ∂L/∂θ for every parameter, same shapes
    buffer/<name>    float64   every fixed random matrix, the matrix itself
    seed/<name>      0-d int   the seed of the layer that owns buffer/<name> (the one its config records),
                               from which that layer rebuilds the matrix; -1 for a matrix no seed rebuilds
                               (one built from data: the template scheme)

A ``seed/<name>`` entry is the owning layer's seed, not necessarily the matrix's own: PRP's ``P`` is
drawn from the layer's seed itself, but an untied PRPAutoencoder's ``P_dec``, EUGen's ``G``, SNNK's
``xi`` and InputTower's ``G1``, ``G2`` come from seeds the layer derives from its own. To rebuild a
matrix, build the layer from ``layer`` (or read ``buffer/<name>``), rather than passing the seed to
:func:`rpnumpy.random_matrices.random_matrix`.

Names inside a :class:`~rpnumpy.layers.Sequential` are prefixed by the layer's index: ``param/0.W``.
Matrices follow rpnumpy's row-vector convention: a layer maps ``x`` of shape ``(n, d_in)`` through
``x @ M`` with ``M`` of shape ``(d_in, d_out)``; PyTorch's ``nn.Linear.weight`` is ``M.T``.

What ``--compare`` does
-----------------------
It rebuilds the layer from ``layer``, loads ``param/*`` and ``buffer/*`` into it (the stored
matrices are used, and each is compared with the one the layer rebuilds from its seed, for
information; a layer that applies a matrix as a fixed operator built from its seed refuses another
matrix), runs
``forward(input)`` and ``backward(upstream)`` in float64, and compares ``output``, ``grad_input``
and every ``grad/<name>`` with the file's by the relative error of
:func:`rpnumpy.gradcheck.relative_error`, :math:`\max|a-b| / \max(\max|a|, \max|b|, 10^{-8})`.
The file passes if every one is below the tolerance, by default :data:`DEFAULT_TOLERANCE` = 1e-10:
two correct float64 implementations of these small layers agree to about 1e-15, and a wrong factor
or index gives errors of order 1e-2 to 1, so 1e-10 separates the two by several orders of magnitude
either way. A gradient missing from the file, or one the layer does not have, is a mismatch too.

A file that cannot be compared at all is *unusable*: it cannot be read or is malformed (it is
checked as model files are, :func:`rpnumpy.io.scan_npz_archive`: no unknown entries, headers that
declare what they hold), its layer entry is not a valid rpnumpy layer, its parameters or matrices
do not fit that layer, the layer cannot run on its input, or its input holds no sample (nothing
would be compared). A folder is compared file by file: an unusable file is reported and the
others are still compared. ``python -m rpnumpy gradcheck --compare`` exits with status 0 only if
every file was compared and agrees, 1 if a file mismatched (and none was unusable), 2 if a file
was unusable (or the path holds no ``.npz`` file). Text that comes from a file (the case name,
the producer, messages quoting it) is printed with control characters escaped and cut to a few
hundred characters, so a file cannot forge lines of the report or send terminal escape codes.

Checking your own implementation (PyTorch)
------------------------------------------
Write rpnumpy's cases with ``python -m rpnumpy gradcheck --out cases``, compute the layer of one of
them with your own code, replace its results, and compare. For a PRP layer in PyTorch::

    import numpy as np
    import torch

    case = dict(np.load("cases/PRP-gaussian.npz", allow_pickle=False))
    x = torch.tensor(case["input"], requires_grad=True)
    alpha, w, b = (torch.tensor(case[f"param/{k}"], requires_grad=True) for k in ("alpha", "w", "b"))
    P = torch.tensor(case["buffer/P"])                      # the fixed matrix, (d_in, d_out)
    y = ((x * alpha) @ P) * w + b                           # PRP: y = (P^T (x * alpha)) * w + b
    y.backward(torch.tensor(case["upstream"]))              # dL/dy = the file's upstream gradient
    case.update({"output": y.detach().numpy(), "grad_input": x.grad.numpy(),
                 "grad/alpha": alpha.grad.numpy(), "grad/w": w.grad.numpy(), "grad/b": b.grad.numpy(),
                 "producer": np.array(f"torch {torch.__version__}")})
    np.savez("mine.npz", **case)

then ``python -m rpnumpy gradcheck --compare mine.npz`` prints the table and exits with 0 (all
below 1e-10), 1 (a mismatch) or 2 (the file cannot be used).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._validation import check_positive_float
from ..gradcheck import relative_error
from ..io import MAX_MODEL_BYTES, check_archive_header, load_stored_arrays, read_npz_archive, write_npz_atomically
from ..layers.base import Layer, Sequential, layer_from_config, layer_spec
from .cases import LAYER_CASES, LayerCase, get_case

__all__ = [
    "DEFAULT_TOLERANCE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "ArrayComparison",
    "CaseComparison",
    "ExchangeCase",
    "ExchangeFileError",
    "case_filename",
    "printable",
    "compare_case",
    "compare_path",
    "exchange_case",
    "read_case",
    "write_case",
    "write_registered_cases",
]

FORMAT_NAME = "rpnumpy-gradcheck"
FORMAT_VERSION = 1
#: Default tolerance of :func:`compare_case` on every relative error (see the module docstring).
DEFAULT_TOLERANCE = 1e-10


class ExchangeFileError(ValueError):
    """An exchange file is unreadable, incomplete or does not fit the layer it names."""


def printable(text: Any, limit: int = 300) -> str:
    r"""``text`` safe to print on one line: every non-printable character escaped (``\n``, ``\x1b``), cut to ``limit``.

    Names, producers and messages read from an exchange file go through it, so that a file can
    neither forge lines of a report nor send escape codes to a terminal.
    """
    out = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(text))
    return out if len(out) <= limit else out[: limit - 3] + "..."


#: The entries an exchange file may hold besides param/, grad/, buffer/ and seed/ ones.
_ENTRIES = ("format", "format_version", "layer", "input", "upstream", "output", "grad_input", "case", "producer")


def _known_entry(name: str) -> bool:
    return name in _ENTRIES or name.split("/", 1)[0] in ("param", "grad", "buffer", "seed")


@dataclass
class ExchangeCase:
    """The contents of one exchange file (see the module docstring for the meaning of every field)."""

    name: str
    spec: dict[str, Any]
    input: np.ndarray
    upstream: np.ndarray
    output: np.ndarray
    grad_input: np.ndarray | None
    params: dict[str, np.ndarray] = field(default_factory=dict)
    grads: dict[str, np.ndarray] = field(default_factory=dict)
    buffers: dict[str, np.ndarray] = field(default_factory=dict)
    seeds: dict[str, int] = field(default_factory=dict)
    producer: str = ""


def _buffer_seeds(layer: Layer) -> dict[str, int]:
    """The seed of the layer owning each buffer, from which that layer rebuilds it (-1 if it cannot).

    This is the layer's seed, not necessarily the one the matrix is drawn from: some layers derive
    a buffer's seed from their own (see the module docstring).
    """
    if isinstance(layer, Sequential):
        return {f"{i}.{k}": s for i, sub in enumerate(layer.layers) for k, s in _buffer_seeds(sub).items()}
    seed = getattr(layer, "seed", None)
    return {k: (int(seed) if seed is not None and k in layer.rebuildable_buffers else -1) for k in layer.buffers}


def exchange_case(layer: Layer, x: np.ndarray, upstream: np.ndarray, *, name: str = "") -> ExchangeCase:
    """Run ``layer`` forward on ``x`` and backward from ``upstream`` and collect everything a file holds.

    Parameters
    ----------
    layer : Layer
        In float64.
    x, upstream : ndarray of float64
    name : str, optional
        The case's name (default: the layer's class name).
    """
    from .. import __version__

    if layer.dtype is not None and layer.dtype != np.float64:
        raise TypeError(f"exchange files are float64; convert the layer first: layer.astype(np.float64), "
                        f"got a {layer.dtype} layer")
    for label, array in (("x", x), ("upstream", upstream)):
        if not isinstance(array, np.ndarray) or array.dtype != np.float64:
            raise TypeError(f"{label} must be a float64 numpy.ndarray, got {getattr(array, 'dtype', type(array))}")
    output = np.array(layer.forward(x), copy=True)
    try:
        grad_input = np.array(layer.backward(upstream), copy=True)
    except NotImplementedError:  # a layer that computes no input gradient by design
        layer.backward(upstream, input_grad=False)
        grad_input = None
    return ExchangeCase(
        name=name or type(layer).__name__,
        spec=layer_spec(layer),
        input=np.array(x, copy=True), upstream=np.array(upstream, copy=True), output=output, grad_input=grad_input,
        params={k: v.copy() for k, v in layer.params.items()},
        grads={k: v.copy() for k, v in layer.grads.items()},
        buffers={k: v.copy() for k, v in layer.buffers.items()},
        seeds=_buffer_seeds(layer), producer=f"rpnumpy {__version__}",
    )


def case_filename(name: str) -> str:
    """A file name for a case: ``"HalfLayer[binary,relu]"`` -> ``"HalfLayer-binary-relu.npz"``."""
    stem = re.sub(r"[^A-Za-z0-9_.]+", "-", name).strip("-")
    return f"{stem}.npz"


def write_case(case: ExchangeCase, path: str | os.PathLike) -> Path:
    """Write ``case`` to ``path`` (written as given; atomically, through a temporary file)."""
    path = Path(path)
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT_NAME),
        "format_version": np.array(FORMAT_VERSION),
        "case": np.array(case.name),
        "layer": np.array(json.dumps(case.spec)),
        "producer": np.array(case.producer),
        "input": case.input,
        "upstream": case.upstream,
        "output": case.output,
    }
    if case.grad_input is not None:
        arrays["grad_input"] = case.grad_input
    arrays.update({f"param/{k}": v for k, v in case.params.items()})
    arrays.update({f"grad/{k}": v for k, v in case.grads.items()})
    arrays.update({f"buffer/{k}": v for k, v in case.buffers.items()})
    arrays.update({f"seed/{k}": np.array(s, dtype=np.int64) for k, s in case.seeds.items()})
    return write_npz_atomically(path, arrays)


def _float64(contents: dict[str, np.ndarray], key: str, where: str) -> np.ndarray:
    value = contents[key]
    if value.dtype != np.float64:
        raise ExchangeFileError(
            f"{where}: {key} has dtype {value.dtype}, but exchange files are float64 (a float32 comparison "
            f"cannot tell a bug from round-off); compute and store it in float64"
        )
    return value


def read_case(path: str | os.PathLike, *, max_bytes: int = MAX_MODEL_BYTES) -> ExchangeCase:
    """Read an exchange file, checking its format, version, entries and dtypes.

    The archive is checked before any array is read (:func:`rpnumpy.io.scan_npz_archive`: only the
    entries of the format, headers that declare exactly what they hold, at most ``max_bytes``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ExchangeFileError
        If the file is not a readable exchange file of this version (a ``.npy`` file, say), holds
        unknown entries or entries of the wrong dtype.
    """
    where = str(path)
    contents = read_npz_archive(path, error=ExchangeFileError, kind="exchange file", max_bytes=max_bytes,
                                allowed=_known_entry)
    required = ("format", "format_version", "layer", "input", "upstream", "output")
    missing = [key for key in required if key not in contents]
    if missing:
        raise ExchangeFileError(f"{where}: required entries {missing} are missing (see rpnumpy.testing.exchange)")
    spec = check_archive_header(contents, format_name=FORMAT_NAME, format_version=FORMAT_VERSION, spec_key="layer",
                                error=ExchangeFileError, where=where)
    for key in ("case", "producer"):
        if key in contents and (contents[key].shape != () or contents[key].dtype.kind != "U"):
            raise ExchangeFileError(f"{where}: the {key} entry must be a 0-d str array, got shape "
                                    f"{contents[key].shape} of {contents[key].dtype}")
    seeds = {k: v for k, v in contents.items() if k.startswith("seed/")}
    bad_seeds = sorted(k for k, v in seeds.items() if v.shape != () or v.dtype.kind not in "iu")
    if bad_seeds:
        raise ExchangeFileError(f"{where}: seed entries {bad_seeds} must be 0-d int arrays")

    def group(prefix: str) -> dict[str, np.ndarray]:
        return {k[len(prefix):]: _float64(contents, k, where) for k in contents if k.startswith(prefix)}

    return ExchangeCase(
        name=str(contents.get("case", np.array(spec.get("class", "?") if isinstance(spec, dict) else "?"))),
        spec=spec,
        input=_float64(contents, "input", where), upstream=_float64(contents, "upstream", where),
        output=_float64(contents, "output", where),
        grad_input=_float64(contents, "grad_input", where) if "grad_input" in contents else None,
        params=group("param/"), grads=group("grad/"), buffers=group("buffer/"),
        seeds={k[len("seed/"):]: int(v) for k, v in contents.items() if k.startswith("seed/")},
        producer=str(contents.get("producer", "")),
    )


@dataclass
class ArrayComparison:
    """One row of a comparison: an array of the file against rpnumpy's."""

    name: str
    shape: tuple[int, ...]
    relative_error: float | None
    absolute_error: float | None
    passed: bool
    note: str = ""


@dataclass
class CaseComparison:
    """The comparison of one exchange file with rpnumpy: rows per array, and problems with the file."""

    path: str
    name: str
    producer: str
    tolerance: float
    rows: list[ArrayComparison] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unusable: bool = False

    @property
    def passed(self) -> bool:
        """True if the file is complete and every compared array is within the tolerance."""
        return not self.problems and bool(self.rows) and all(row.passed for row in self.rows)

    @property
    def status(self) -> str:
        """``"pass"``, ``"mismatch"`` (compared, and something differs or is missing) or ``"unusable"``.

        Unusable: the file could not be compared at all (see the module docstring), ``problems`` says why.
        """
        if self.unusable or not self.rows:
            return "unusable"
        return "pass" if self.passed else "mismatch"

    @property
    def max_relative_error(self) -> float:
        return max((r.relative_error for r in self.rows if r.relative_error is not None), default=0.0)

    def __str__(self) -> str:
        """The table, every text from the file escaped (:func:`printable`)."""
        head = f"{printable(self.name)}  ({printable(self.path)}"
        head += f", produced by {printable(self.producer)})" if self.producer else ")"
        lines = [head, f"  {'array':<22} {'shape':<16} {'rel. error':>11} {'abs. error':>11}  verdict"]
        for r in self.rows:
            rel = "" if r.relative_error is None else f"{r.relative_error:.2e}"
            ab = "" if r.absolute_error is None else f"{r.absolute_error:.2e}"
            verdict = ("ok" if r.passed else "MISMATCH") + (f"  ({printable(r.note)})" if r.note else "")
            lines.append(f"  {printable(r.name):<22} {str(r.shape):<16} {rel:>11} {ab:>11}  {verdict}")
        lines += [f"  problem: {printable(p)}" for p in self.problems]
        outcome = {"pass": "PASS", "mismatch": "FAIL", "unusable": "UNUSABLE"}[self.status]
        lines.append(f"  max relative error {self.max_relative_error:.2e} -> {outcome} "
                     f"(tolerance {self.tolerance:.0e})")
        return "\n".join(lines)


def _row(name: str, theirs: np.ndarray, ours: np.ndarray, tolerance: float) -> ArrayComparison:
    if theirs.shape != ours.shape:
        return ArrayComparison(name, tuple(theirs.shape), None, None, False,
                               f"shape {theirs.shape} in the file, {ours.shape} in rpnumpy")
    rel = relative_error(theirs, ours)
    ab = float(np.max(np.abs(theirs - ours))) if ours.size else 0.0
    return ArrayComparison(name, tuple(ours.shape), rel, ab, bool(rel < tolerance))


def _load_arrays(layer: Layer, case: ExchangeCase, result: CaseComparison) -> bool:
    """Copy the file's parameters and matrices into ``layer``; record problems; False if unusable.

    The checks and the copying are :func:`rpnumpy.io.load_stored_arrays`'s; the policy here is the
    exchange format's own: a stored matrix that a seed rebuilds may differ from the rebuilt one and
    is then used (unless the layer applies that matrix as a fixed operator), and every row says so.
    """
    try:
        load_stored_arrays(layer, case.params, case.buffers, error=ExchangeFileError,
                           config_name="the layer", model_name="the layer")
    except ExchangeFileError as exc:
        result.problems.append(str(exc))
        return False
    rebuildable = layer.rebuildable_buffers
    for key, rebuilt in layer.buffers.items():
        if key not in case.buffers:  # load_stored_arrays let it pass: its seed rebuilds it
            result.rows.append(ArrayComparison(f"buffer/{key}", tuple(rebuilt.shape), None, None, True,
                                               "not in the file: rebuilt from its seed"))
            continue
        stored = case.buffers[key]
        if key not in rebuildable:  # already copied in
            note = "stored matrix used (built from data, no seed)"
        elif np.array_equal(stored, rebuilt):
            note = "equals the matrix its seed rebuilds"
        elif not rebuilt.flags.writeable:
            # The layer applies this matrix as a fast operator built from the seed (the "srht" scheme):
            # another matrix cannot be substituted for it.
            result.problems.append(f"buffer/{key} differs from the matrix its seed rebuilds, and this layer "
                                   f"applies that matrix as a fixed operator: store the seed's matrix")
            return False
        else:
            note = f"stored matrix used; it differs from its seed's (rel. {relative_error(stored, rebuilt):.1e})"
            np.copyto(rebuilt, stored)
        result.rows.append(ArrayComparison(f"buffer/{key}", tuple(stored.shape), None, None, True, note))
    return True


def compare_case(case: ExchangeCase, *, tolerance: float = DEFAULT_TOLERANCE, path: str = "") -> CaseComparison:
    """Recompute ``case`` with rpnumpy and compare the output and every gradient (see the module docstring)."""
    tolerance = check_positive_float(tolerance, "tolerance")
    result = CaseComparison(path=path, name=case.name, producer=case.producer, tolerance=tolerance)
    if case.input.ndim == 0 or case.input.shape[0] == 0:
        result.problems.append(f"the input holds no sample (shape {case.input.shape}): nothing to compare")
        result.unusable = True
        return result
    try:
        layer = layer_from_config(case.spec, max_values=MAX_MODEL_BYTES // 8)
    except (ValueError, TypeError) as exc:
        result.problems.append(f"the layer entry does not describe an rpnumpy layer: {exc}")
        result.unusable = True
        return result
    if layer.dtype is not None and layer.dtype != np.float64:
        layer = layer.astype(np.float64)
    if not _load_arrays(layer, case, result):
        result.unusable = True
        return result
    try:
        output = layer.forward(case.input)
        if output.shape != case.upstream.shape:
            result.problems.append(f"upstream has shape {case.upstream.shape}, the output's is {output.shape}")
            result.unusable = True
            return result
        try:
            grad_input = layer.backward(case.upstream)
        except NotImplementedError:  # the layer computes no input gradient by design
            layer.backward(case.upstream, input_grad=False)
            grad_input = None
    except (ValueError, TypeError) as exc:
        result.problems.append(f"rpnumpy cannot run the layer on the file's input: {exc}")
        result.unusable = True
        return result
    rows = [_row("output", case.output, output, tolerance)]
    if grad_input is not None and case.grad_input is not None:
        rows.append(_row("grad_input", case.grad_input, grad_input, tolerance))
    elif grad_input is not None:
        rows.append(ArrayComparison("grad_input", tuple(grad_input.shape), None, None, False, "missing from the file"))
    elif case.grad_input is not None:
        result.problems.append("grad_input is in the file, but the layer computes no input gradient")
    for key, ours in layer.grads.items():
        if key in case.grads:
            rows.append(_row(f"grad/{key}", case.grads[key], ours, tolerance))
        else:
            rows.append(ArrayComparison(f"grad/{key}", tuple(ours.shape), None, None, False, "missing from the file"))
    for key in sorted(set(case.grads) - set(layer.grads)):
        result.problems.append(f"grad/{key} is not a parameter of the layer")
    result.rows[:0] = rows  # outputs and gradients first, then the matrices' notes
    return result


def compare_path(path: str | os.PathLike, *, tolerance: float = DEFAULT_TOLERANCE) -> list[CaseComparison]:
    """Compare one exchange file, or every ``*.npz`` file of a folder (sorted by name), one result per file.

    A file that cannot be read, or whose comparison fails with any exception, gives an unusable
    result naming the reason (:attr:`CaseComparison.status`); the other files are still compared.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or a folder holds no ``.npz`` file.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.npz"))
        if not files:
            raise FileNotFoundError(f"no .npz files in {path}")
    elif path.is_file():
        files = [path]
    else:
        raise FileNotFoundError(f"no exchange file or folder at {path}")
    tolerance = check_positive_float(tolerance, "tolerance")
    return [_compare_file(f, tolerance) for f in files]


def _compare_file(path: Path, tolerance: float) -> CaseComparison:
    """:func:`compare_case` of the file ``path``; whatever goes wrong makes an unusable result, never an exception."""
    try:
        return compare_case(read_case(path), tolerance=tolerance, path=str(path))
    except (ExchangeFileError, OSError) as exc:
        reason = str(exc)
    except Exception as exc:  # noqa: BLE001 (a crash while comparing one file must not stop the others)
        reason = f"rpnumpy failed while comparing this file: {type(exc).__name__}: {exc}"
    return CaseComparison(path=str(path), name=path.name, producer="", tolerance=tolerance, problems=[reason],
                          unusable=True)


def write_registered_cases(
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    names: list[str] | None = None,
    on_written: Callable[[LayerCase, Layer, np.ndarray, np.ndarray, Path], Any] | None = None,
) -> list[tuple[str, Path]]:
    """Write one exchange file per registered layer case (:data:`rpnumpy.testing.cases.LAYER_CASES`).

    Each case is sampled once with :meth:`~rpnumpy.testing.cases.LayerCase.sample` (float64,
    parameters moved off their initial values, a random upstream gradient) and written to
    ``out_dir / case_filename(name)``.

    Parameters
    ----------
    out_dir : path-like
        Created if needed.
    seed : int, default=0
        Base seed; each case's generator also depends on its name, so the files of existing cases
        do not change when cases are added.
    names : list of str, optional
        Only these cases (all by default).
    on_written : callable, optional
        ``on_written(case, layer, x, dy, path)``, called after each file is written with the very
        layer, input and upstream gradient the file holds: to check rpnumpy's gradients by central
        differences on exactly what was written, say (``python -m rpnumpy gradcheck`` does).

    Returns
    -------
    list of (name, path)

    Raises
    ------
    ValueError
        If a name in ``names`` is not a registered case.
    """
    cases = LAYER_CASES if names is None else [get_case(name) for name in names]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for case in cases:
        layer, x, dy = case.sample(seed)
        path = write_case(exchange_case(layer, x, dy, name=case.name), out_dir / case_filename(case.name))
        if on_written is not None:
            on_written(case, layer, x, dy, path)
        written.append((case.name, path))
    return written
