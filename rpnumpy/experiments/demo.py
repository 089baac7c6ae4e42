"""``python -m rpnumpy demo``: a guided tour of the project in a few minutes, on the real MNIST data.

Seven steps, each one claim of the project shown at a reduced budget (fewer epochs, one seed,
subsets where needed) and labelled as such. Each step writes its part of ``report.md`` and
returns one row of the summary table: what was shown, our number at this budget, the number
of the last full reproduction (``published.json``, with its date) and the paper's where there
is one. The full-size numbers come from ``python -m rpnumpy reproduce all``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np

from .report import RunContext

__all__ = ["Row", "STEPS", "format_table", "published", "run_demo", "summary_table"]


@dataclass
class Row:
    """One line of the summary table."""

    shown: str
    budget: str
    ours: str
    published: str = "—"
    paper: str = "—"


def published() -> dict[str, Any]:
    """The last full reproduction's numbers shipped with the package (``rpnumpy/experiments/published.json``)."""
    return json.loads(resources.files("rpnumpy.experiments").joinpath("published.json").read_text(encoding="utf-8"))


def _last(key: str) -> str:
    entry = published()[key]
    return f"{entry['value']} ({entry['date']})" if entry.get("value") else "—"


def _paper(key: str) -> str:
    return published()["paper"].get(key, "—")


def _mnist(ctx: RunContext, n_train: int | None = None, n_test: int | None = None) -> tuple:
    from . import units

    units.environment(units.Environment(out_dir=ctx.out_dir, data_dir=ctx.data_dir, download=ctx.download,
                                        data=units.environment().data))
    subset = None if n_train is None else (n_train, n_test)
    return units.dataset("mnist", subset)


def _budget(quick: bool, full: int, small: int) -> int:
    return small if quick else full


def step_gradcheck(ctx: RunContext) -> Row:
    """Every registered layer case against central differences; the fixed matrices' update is zero."""
    from ..gradcheck import PASS_THRESHOLD
    from ..testing.cases import LAYER_CASES, check_case_gradients

    cases = LAYER_CASES[::8] if ctx.quick else LAYER_CASES
    worst, failures, buffer_rows = 0.0, [], []
    for case in cases:
        layer, x, dy = case.sample(ctx.seed)
        if not (layer.params or case.input_grad):
            continue  # nothing to differentiate
        report = check_case_gradients(case, layer, x, dy=dy, rng=ctx.seed)
        worst = max(worst, report.max_relative_error)
        if not report.passed():
            failures.append(case.name)
        if layer.buffers and layer.params:
            buffer_rows.append([f"`{case.name}`", *_zero_update(layer, x, dy, case.input_grad)])
    buffers_still = sum(row[-1] == "yes" for row in buffer_rows)
    with_buffers = len(buffer_rows)
    ctx.text("### 1. Gradient checks of every registered layer case\n\n"
             f"Budget: {len(cases)} of {len(LAYER_CASES)} cases{' (quick run)' if ctx.quick else ''}, float64, "
             f"central differences against the hand-written backward passes (pass: relative error below "
             f"{PASS_THRESHOLD:g}). Worst relative error **{worst:.1e}**; failures: {failures or 'none'}. "
             f"For the {with_buffers} cases with fixed random matrices (`buffers`) and trainable parameters, "
             f"`layer.buffer_grads` is exactly zero and an Adam step leaves every buffer unchanged in "
             f"**{buffers_still} of {with_buffers}**:")
    ctx.table(["case", "fixed values", "largest |buffer_grads|", "buffers unchanged by an Adam step"], buffer_rows)
    ours = (f"{len(cases) - len(failures)}/{len(cases)} pass, worst {worst:.0e}; "
            f"buffers unchanged {buffers_still}/{with_buffers}")
    return Row("gradient check, every layer case", f"{len(cases)} cases, float64", ours, _last("gradcheck"))


def _zero_update(layer: Any, x: np.ndarray, dy: np.ndarray, input_grad: bool) -> list[str]:
    """A backward pass and one Adam step: the buffers' update (``buffer_grads``) and whether they moved."""
    from ..fast.optim import FusedAdam

    before = {k: v.copy() for k, v in layer.buffers.items()}
    layer.forward(x)
    layer.backward(dy, input_grad=input_grad)
    largest = max(float(np.max(np.abs(g), initial=0.0)) for g in layer.buffer_grads.values())
    FusedAdam(layer, lr=0.1).step()
    same = all(np.array_equal(before[k], layer.buffers[k]) for k in before)
    return [f"{layer.n_buffer_values:,}", f"{largest:g}", "yes" if same and largest == 0 else "NO"]


def _train(model: Any, data: tuple, *, epochs: int, lr: float, seed: int) -> float:
    from ..fast.optim import FusedAdam
    from ..losses import SoftmaxCrossEntropy
    from ..training import evaluate, fit

    fit(model, data[0], data[1], loss=SoftmaxCrossEntropy(), optimizer=FusedAdam(model, lr=lr), epochs=epochs,
        batch_size=128, rng=seed, progress=False)
    return evaluate(model, data[2], data[3])["accuracy"]


def step_half(ctx: RunContext) -> Row:
    """The half layer rnd-256-N against the MLP with the same number of trainable parameters (mlp-4)."""
    from ..models import half_net, mlp
    from .half import LR

    epochs = _budget(ctx.quick, 2, 1)
    data = _mnist(ctx, *((3000, 1000) if ctx.quick else (None, None)))
    half, small = half_net(256, "N", ctx.seed, x_train=data[0], y_train=data[1]), mlp(4, ctx.seed)
    half_acc = _train(half, data, epochs=epochs, lr=LR, seed=ctx.seed)
    mlp_acc = _train(small, data, epochs=epochs, lr=LR, seed=ctx.seed)
    budget = f"{epochs} epoch(s) of 10, seed {ctx.seed} of 3, {len(data[0]):,} images"
    ctx.text("### 2. Half layer against the MLP with the same budget\n\n"
             f"`rnd-256-N` (HalfLayer(784→256, normal R) + Dense(256→10)): {half.n_params:,} trainable and "
             f"{half.n_buffer_values:,} fixed values; `mlp-4` (784-4-10): {small.n_params:,} trainable. "
             f"Budget: {budget}. MNIST test accuracy: half layer **{100 * half_acc:.2f}%**, "
             f"MLP **{100 * mlp_acc:.2f}%**.")
    ours = f"{100 * half_acc:.2f}% vs mlp-4 {100 * mlp_acc:.2f}%"
    return Row("half layer rnd-256-N vs mlp-4 (MNIST)", budget, ours,
               f"{published()['half_rnd_256_n']['value']} vs {_last('half_mlp_4')}", _paper("half_rnd_256_n"))


def step_prp(ctx: RunContext) -> Row:
    """The all-PRP 784-512-256-10 MLP: its parameter count against the dense one, and one epoch of training."""
    from ..models import dense_mlp, prp_mlp

    data = _mnist(ctx, *((3000, 1000) if ctx.quick else (None, None)))
    model, dense = prp_mlp(ctx.seed), dense_mlp(ctx.seed)
    accuracy = _train(model, data, epochs=1, lr=0.04, seed=ctx.seed)
    ratio = dense.n_params / model.n_params
    budget = f"1 epoch of 10, seed {ctx.seed} of 3, {len(data[0]):,} images"
    ctx.text("### 3. PRP layers: the 784-512-256-10 MLP with every layer a PRP layer\n\n"
             f"Trainable parameters: PRP **{model.n_params:,}** against the dense MLP's **{dense.n_params:,}** "
             f"({ratio:.0f}x fewer); fixed values (regenerated from seeds): {model.n_buffer_values:,}. "
             f"Budget: {budget}, Adam lr 0.04 (the range test's rate). MNIST test accuracy **{100 * accuracy:.2f}%**.")
    ours = f"{100 * accuracy:.2f}%; {model.n_params:,} vs {dense.n_params:,} params ({ratio:.0f}x)"
    return Row("PRP 784-512-256-10 MLP (MNIST)", budget, ours, f"{published()['prp_gaussian']['value']}; "
               f"{_last('prp_params')}", _paper("prp_gaussian"))


def step_jl(ctx: RunContext) -> Row:
    """Johnson–Lindenstrauss: the measured distortion of MNIST distances against the bound."""
    from matplotlib.figure import Figure

    from ..jl import distortion_ratios, jl_projection_matrix, johnson_lindenstrauss_min_dim

    n_points, eps, ks = (100, 0.2, (32, 128, 512)) if ctx.quick else (300, 0.2, (32, 64, 128, 256, 512, 1024))
    points = _mnist(ctx)[2][:n_points].astype(np.float64)
    bound = int(johnson_lindenstrauss_min_dim(n_points, eps))
    within, worst = [], []
    for k in ks:
        ratios = distortion_ratios(points, points @ jl_projection_matrix("gaussian", 784, k, ctx.seed))
        within.append(float(np.mean(np.abs(ratios - 1) < eps)))
        worst.append(float(np.max(np.abs(ratios - 1))))
    fig = Figure(figsize=(5, 3.4))
    ax = fig.subplots()
    ax.plot(ks, [100 * w for w in within], "o-", label=f"pairs within 1 ± {eps}")
    ax.axvline(bound, color="k", linestyle="--", linewidth=1, label=f"JL bound k = {bound}")
    ax.set(xscale="log", xlabel="target dimension k", ylabel="% of pairs", title=f"{n_points} MNIST images")
    ax.legend(fontsize=8)
    ctx.text("### 4. Johnson–Lindenstrauss: measured distortion against the bound\n\n"
             f"{n_points} MNIST test images (d = 784), Gaussian projections scaled by 1/√k, one seed. For ε = {eps} "
             f"the bound asks for k ≥ {bound}; the share of the {n_points * (n_points - 1) // 2:,} squared "
             "distances kept within 1 ± ε, and the worst distortion:")
    ctx.table(["k", "within 1 ± ε", "worst |ratio − 1|"],
              [[k, f"{100 * w:.1f}%", f"{m:.3f}"] for k, w, m in zip(ks, within, worst)])
    ctx.figure(fig, "demo_jl", "Share of MNIST distances kept within 1 ± ε against k; the bound is loose.")
    k_small = next((k for k, w in zip(ks, within) if w == 1.0), None)
    ours = (f"all pairs within 1 ± {eps} from k = {k_small} (bound {bound})" if k_small else
            f"{100 * within[-1]:.1f}% within 1 ± {eps} at k = {ks[-1]} (bound {bound})")
    return Row("Johnson–Lindenstrauss distortion vs bound", f"{n_points} images, 1 seed", ours, _last("jl"),
               _paper("jl"))


def step_urf(ctx: RunContext) -> Row:
    """Universal random features: the Monte Carlo estimate Φ(x)ᵀΨ(w, b) against f(wᵀx + b)."""
    from ..features import random_feature_tower
    from .snnk import REFERENCE_MSE, kernel_mse, kernel_points

    x, w, b = kernel_points(8, 0.5, ctx.seed)
    rows, mses = [], []
    for m in (16, 256, 4096):
        tower = random_feature_tower("cos", 8, m, rng=ctx.seed)
        estimate, target = tower.estimate(x, w, b), tower.target(x, w, b)
        rows.append([m, f"{estimate[0, 0]:+.4f}", f"{target[0, 0]:+.4f}", f"{np.mean((estimate - target) ** 2):.1e}"])
    redraws = _budget(ctx.quick, 20, 5)
    for m in (64, 256, 1024):
        mses.append(kernel_mse("cos", 8, 0.5, m, "iid", redraws, ctx.seed)["mse"])
    slope = float(np.polyfit(np.log([64, 256, 1024]), np.log(mses), 1)[0])
    reference = REFERENCE_MSE[(8, 0.5, "cos")]["iid"][3]
    ctx.text("### 5. Universal random features: the Monte Carlo estimate of f(wᵀx + b)\n\n"
             "f = cos, d = 8, ‖x‖ = ‖w‖ = 0.5, b ~ U(−1, 1): the estimate Φ(x)ᵀΨ(w, b) for the first pair and the MSE "
             "over 400 pairs, for one draw of m random directions:")
    ctx.table(["m", "estimate", "f(wᵀx + b)", "MSE over 400 pairs"], rows)
    ctx.text(f"Averaged over {redraws} draws (the full chapter: 50), the MSE falls like m^{slope:.2f} (1/m is m^−1); "
             f"at m = 1024 it is {mses[-1]:.1e}, against {reference:.1e} from an independent implementation "
             "of the same protocol (stored in `rpnumpy.experiments.snnk`).")
    ours = f"MSE ∝ m^{slope:.2f}; {mses[-1]:.1e} at m = 1024 (independent impl.: {reference:.1e})"
    return Row("random features: estimate vs f(wᵀx + b)", f"{redraws} draws of 50, 1 cell of 4", ours,
               _last("urf"), _paper("urf"))


def step_bundled(ctx: RunContext) -> Row:
    """The fully bundled network fitted in closed form against Adam on the same fixed features."""
    from ..bundling import FullyBundledNetwork, one_hot
    from .snnk import race

    m, epochs = (512, 2) if ctx.quick else (1024, 3)
    x_tr, y_tr, x_te, y_te = _mnist(ctx, *((3000, 1000) if ctx.quick else (None, None)))
    data = (x_tr, one_hot(y_tr, 10, np.float32), x_te, one_hot(y_te, 10, np.float32))
    build = lambda: FullyBundledNetwork.build(784, 10, m, "relu", relu_bias=True, rng=ctx.seed,  # noqa: E731
                                              dtype=np.float32)
    result = race(build, data, epochs=epochs, lrs=(3e-3,), seed=ctx.seed, labels=(y_tr, y_te))
    adam = result["runs"]["0.003"]
    budget = f"D = {m} of 2048, Adam {epochs} epochs of 50, 1 rate of 3"
    ctx.text("### 6. The fully bundled network fitted in closed form, against Adam\n\n"
             f"ŷ = V z(x) + c with z a fixed ReLU tower of D = {m} features on {len(x_tr):,} MNIST images, one-hot "
             f"targets. Closed form (ridge, one streaming pass): test MSE **{result['closed_test_mse']:.5f}**, "
             f"accuracy **{100 * result['closed_test_accuracy']:.2f}%**, in {result['closed_seconds']:.1f} s. "
             f"Adam (lr 3e-3, batch 128) on the same features: test MSE {adam['best_test_mse']:.5f} after "
             f"{epochs} epochs ({100 * adam['final_test_accuracy']:.2f}%), {adam['seconds'][-1]:.1f} s. "
             f"Budget: {budget}.")
    ours = (f"{100 * result['closed_test_accuracy']:.2f}% (MSE {result['closed_test_mse']:.5f}); Adam "
            f"{adam['best_test_mse']:.5f}")
    return Row("fully bundled network, closed form vs Adam (MNIST)", budget, ours, _last("bundled_mnist"),
               _paper("bundled_mnist"))


def step_eugen(ctx: RunContext) -> Row:
    """EUGen transfer of a small trained teacher, in closed form, without back-propagation."""
    from ..models import teacher_mlp
    from ..training import evaluate
    from ..transfer import EUGenFactory, transfer

    data = _mnist(ctx, *((3000, 1000) if ctx.quick else (None, None)))
    teacher = teacher_mlp(ctx.seed)
    teacher_acc = _train(teacher, data, epochs=1, lr=1e-3, seed=ctx.seed)
    m, n_calibration = (32, 2000) if ctx.quick else (128, 20_000)
    start = time.perf_counter()
    student, report = transfer(teacher, data[0][:n_calibration], EUGenFactory(m, 2, rng=1000 + ctx.seed),
                               merge=True, refit_dense=True, inputs="student", l2_relative=1e-6)
    seconds = time.perf_counter() - start
    accuracy = evaluate(student, data[2], data[3])["accuracy"]
    budget = f"teacher 1 epoch of 10, m = {m} of 256, {n_calibration:,} calibration images"
    ctx.text("### 7. EUGen: a trained teacher turned into a smaller student without back-propagation\n\n"
             f"Teacher 784-512-256-10 ({teacher.n_params:,} parameters), trained for 1 epoch: "
             f"**{100 * teacher_acc:.2f}%**. Student: Dense+ReLU+Dense merged into one EUGen(784→256) of order 2 "
             f"with m = {m}, the output layer re-fitted, all by ridge regression on {n_calibration:,} unlabelled "
             f"training images in {seconds:.1f} s: {report.student_params:,} trainable parameters, "
             f"**{100 * accuracy:.2f}%** ({100 * accuracy / teacher_acc:.1f}% of the teacher). Budget: {budget}.")
    ours = f"teacher {100 * teacher_acc:.2f}%, student {100 * accuracy:.2f}% ({100 * accuracy / teacher_acc:.1f}%)"
    return Row("EUGen transfer without back-propagation (MNIST)", budget, ours, _last("eugen_mnist"),
               _paper("eugen_mnist"))


#: The tour, in order: (what the line printed during the run says, the step).
STEPS: list[tuple[str, Callable[[RunContext], Row]]] = [
    ("gradient check of every registered layer case, and the zero update of the fixed matrices", step_gradcheck),
    ("half layer rnd-256-N against mlp-4, the MLP with the same number of trainable parameters", step_half),
    ("the all-PRP 784-512-256-10 MLP and its parameter count against the dense one", step_prp),
    ("Johnson-Lindenstrauss: measured distortion of MNIST distances against the bound", step_jl),
    ("universal random features: the Monte Carlo estimate against f(w'x + b)", step_urf),
    ("the fully bundled network fitted in closed form against Adam", step_bundled),
    ("EUGen: transfer from a small trained teacher without back-propagation", step_eugen),
]


def summary_table(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    header = ["shown", "budget (reduced)", "ours, at this budget", "last full run (date)", "paper's"]
    return header, [[r.shown, r.budget, r.ours, r.published, r.paper] for r in rows]


def _column_widths(natural: list[int], total: int) -> list[int]:
    """Widths that fit ``total`` characters: every column its natural width if all fit, else shared out."""
    widths = [min(n, max(8, total // len(natural))) for n in natural]
    spare = total - sum(widths)
    while spare > 0 and any(w < n for w, n in zip(widths, natural)):
        for i, (w, n) in enumerate(zip(widths, natural)):
            if w < n and spare > 0:
                widths[i] += 1
                spare -= 1
    return widths


def format_table(header: list[str], rows: list[list[str]], width: int | None = None) -> str:
    """A plain-text table whose cells wrap to fit ``width`` characters (the terminal's by default)."""
    import shutil
    import textwrap

    width = width or max(100, shutil.get_terminal_size((140, 24)).columns)
    natural = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    widths = _column_widths(natural, width - 3 * (len(header) - 1))

    def lines(cells: list[str]) -> list[str]:
        wrapped = [textwrap.wrap(c, w) or [""] for c, w in zip(cells, widths)]
        return [" | ".join((col[i] if i < len(col) else "").ljust(w) for col, w in zip(wrapped, widths)).rstrip()
                for i in range(max(len(col) for col in wrapped))]

    rule = "-+-".join("-" * w for w in widths)
    out = [*lines(header), rule]
    for row in rows:
        out += [*lines(row), rule]
    return "\n".join(out[:-1])


def run_demo(ctx: RunContext, stream: Any = None) -> tuple[Any, list[Row]]:
    """Run the tour into ``ctx``, print a line per step and the summary table; return (report path, rows)."""
    import sys

    stream = stream or sys.stdout
    start, cpu = time.perf_counter(), time.process_time()
    ctx.text("This is the five-minute tour. **Every number here comes from a reduced budget** (fewer epochs, one "
             "seed, subsets where said) and is shown beside the last full reproduction (`python -m rpnumpy "
             "reproduce all`, dates in brackets) and the paper's number where there is one."
             + (" *Quick run: small subsets, for tests.*" if ctx.quick else ""))
    rows = []
    for i, (what, step) in enumerate(STEPS, start=1):
        print(f"[{i}/{len(STEPS)}] {what}", file=stream, flush=True)
        t0, c0 = time.perf_counter(), time.process_time()
        rows.append(step(ctx))
        ctx.log(f"demo step {i} ({step.__name__}): {time.perf_counter() - t0:.1f} s wall, "
                f"{time.process_time() - c0:.1f} s CPU")
    header, table = summary_table(rows)
    ctx.sections.insert(1, "### Summary")
    ctx.sections.insert(2, _markdown_table(header, table))
    path = ctx.write("rpnumpy: a five-minute tour")
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    ctx.log(f"demo: {wall:.1f} s wall, {cpu:.1f} s CPU")
    print("\nSummary (reduced budgets; full reproduction: python -m rpnumpy reproduce all)\n", file=stream)
    print(format_table(header, table), file=stream)
    print(f"\n{wall:.0f} s wall, {cpu:.0f} s CPU. Report: {path} and {path.with_suffix('.html')}", file=stream)
    return path, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in rows])
