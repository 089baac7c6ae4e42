"""Chapter 'eugen': a trained MLP turned into EUGen layers in closed form, without back-propagation.

Teachers: MLPs 784-512-256-10 with ReLU, trained with Adam (lr 1e-3, batch 128, float32,
10 epochs) on MNIST and on Fashion-MNIST, one per seed. Students: :func:`rpnumpy.transfer.transfer`
on the 60,000 training images (labels unused); accuracies on the 10,000 test images.

The headline student (our settings, chosen to meet the issue's 95% on MNIST with a 4x smaller
model): the block Dense(784→512) + ReLU + Dense(512→256) becomes one EUGen(784→256) of order
k = 2 with m = 256 features per order (M = 513), fitted against the block's output (linear-layer
merging), each layer fed the student's own upstream outputs, ridge λ = 1e-6 · tr(ZᵀZ)/D, and
the output layer Dense(256→10) re-fitted in closed form on the student's features.

Sections: the headline transfer; its variants (no merging, teacher inputs, no output re-fit,
the data-free estimator); EUGen of orders 1–3 with and without the norm term against SNNK and
low-rank layers at matched trainable parameters; the speed–accuracy trade-off against the dense
teacher and against small dense MLPs trained by back-propagation; the calibration-set size.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..datasets import load_dataset
from ..layers import LowRank
from ..models import teacher_mlp
from ..polyfit import evaluate_polynomial
from ..training import evaluate, predict
from ..transfer import EUGenFactory, LowRankFactory, SNNKFactory, transfer
from .half import DATASETS, train_and_score
from .report import RunContext, chapter

WIDTHS = (784, 512, 256, 10)
LR = 1e-3


@dataclass(frozen=True)
class Settings:
    """Everything the chapter's size depends on (full run and quick run)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 10
    subset: tuple[int, int] | None = None  # (training images, test images); None: all
    m: int = 256  # headline EUGen: features per order
    order: int = 2
    l2_relative: float = 1e-6
    sweep_m: tuple[int, ...] = (32, 64, 128, 256, 512)
    calibration_sizes: tuple[int, ...] = (1000, 3000, 10000, 30000, 60000)
    dense_widths: tuple[int, ...] = (16, 32, 64)
    timing_repeats: int = 7


FULL = Settings()
QUICK = Settings(seeds=(0,), epochs=1, subset=(2000, 1000), m=32, sweep_m=(16, 32), calibration_sizes=(500, 2000),
                 dense_widths=(16,), timing_repeats=3)

#: What the paper reports (its abstract, arXiv; and secondary summaries of the paper where marked).
PAPER = {
    "inference": "up to 27% faster inference (abstract)",
    "memory": "up to 30% fewer parameters / less memory (abstract)",
    "distillation": "closed-form layer-wise transfer recovers ~99% of a NeRF's quality in seconds (summaries)",
}


def time_inference(models: dict[str, Any], x: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds of ``predict(model, x)`` (batches of 1000) per model, the models run in turn.

    Interleaving the runs (teacher, student, teacher, ...) exposes every model to the same
    load on a shared machine.
    """
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            predict(model, x)
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}


def _stats(values: list[float]) -> dict[str, Any]:
    array = np.asarray(values, dtype=np.float64)
    return {"mean": float(array.mean()), "std": float(array.std(ddof=1)) if array.size > 1 else 0.0,
            "values": [float(v) for v in array]}


def _pm(stats: dict[str, Any], scale: float = 100.0, digits: int = 2) -> str:
    return f"{scale * stats['mean']:.{digits}f} ± {scale * stats['std']:.{digits}f}"


class Experiment:
    """Data, teachers and transfers of one chapter run (each teacher trained once)."""

    def __init__(self, ctx: RunContext, settings: Settings) -> None:
        self.ctx, self.s = ctx, settings
        self.data: dict[str, tuple] = {}
        self.teachers: dict[tuple[str, int], dict[str, Any]] = {}
        self.students: dict[tuple, dict[str, Any]] = {}

    def dataset(self, name: str) -> tuple:
        if name not in self.data:
            data = load_dataset(name, self.ctx.data_dir, download=self.ctx.download)
            if self.s.subset:
                n_train, n_test = self.s.subset
                data = (data[0][:n_train], data[1][:n_train], data[2][:n_test], data[3][:n_test])
            self.data[name] = data
        return self.data[name]

    def teacher(self, dataset: str, seed: int) -> dict[str, Any]:
        key = (dataset, seed)
        if key not in self.teachers:
            model = teacher_mlp(seed)
            _, test_acc, seconds = train_and_score(model, self.dataset(dataset), epochs=self.s.epochs, lr=LR,
                                                   seed=seed, progress=self.ctx.progress,
                                                   label=f"teacher {dataset} seed {seed}")
            self.teachers[key] = {"model": model, "accuracy": test_acc, "seconds": seconds}
        return self.teachers[key]

    def student(self, dataset: str, seed: int, make_layer, *, n_calibration: int | None = None,
                **options: Any) -> dict[str, Any]:
        """Transfer the (dataset, seed) teacher and score the student (each distinct transfer runs once).

        ``make_layer``'s repr and the seed identify its layers: factories here draw from ``1000 + seed``.
        """
        teacher = self.teacher(dataset, seed)
        x_train, _, x_test, y_test = self.dataset(dataset)
        n_calibration = min(n_calibration or x_train.shape[0], x_train.shape[0])
        options.setdefault("l2_relative", self.s.l2_relative)
        key = (dataset, seed, repr(make_layer), n_calibration, tuple(sorted(options.items())))
        if key not in self.students:
            model, report = transfer(teacher["model"], x_train[:n_calibration], make_layer, **options)
            accuracy = evaluate(model, x_test, y_test)["accuracy"]
            self.students[key] = {"model": model, "accuracy": accuracy, "retained": accuracy / teacher["accuracy"],
                                  "seconds": report.seconds, "trainable": report.student_params,
                                  "fixed": report.student_fixed, "report": report}
        return self.students[key]

    def eugen(self, seed: int, m: int | None = None, order: int | None = None, **kwargs: Any) -> EUGenFactory:
        return EUGenFactory(m or self.s.m, order or self.s.order, rng=1000 + seed, **kwargs)


def _headline_options() -> dict[str, Any]:
    return {"merge": True, "refit_dense": True, "inputs": "student"}


def _matched_budget(s: Settings) -> int:
    """Trainable parameters of the headline EUGen(784→256): M·256 + 256 with M = 1 + m k."""
    return (1 + s.m * s.order) * WIDTHS[2] + WIDTHS[2]


@chapter("eugen", "EUGen layers: closed-form transfer of a trained MLP, without back-propagation")
def run(ctx: RunContext) -> None:
    s = QUICK if ctx.quick else FULL
    ex = Experiment(ctx, s)
    results: dict[str, Any] = {"settings": {**vars(s), "lr": LR, "widths": list(WIDTHS), "quick": ctx.quick},
                               "paper": PAPER}
    ctx.text(
        f"Teachers: MLP {'-'.join(map(str, WIDTHS))} with ReLU, Adam lr={LR:g}, batch 128, float32, {s.epochs} "
        f"epoch(s), seeds {list(s.seeds)}. Students: closed-form transfer (`rpnumpy.transfer.transfer`), no "
        f"back-propagation, calibrated on the training images (labels unused). **Headline settings (ours):** "
        f"EUGen order k = {s.order}, m = {s.m} features per order (M = {1 + s.m * s.order}), the block "
        f"Dense(784→512)+ReLU+Dense(512→256) merged into one EUGen(784→256), student inputs, ridge "
        f"λ = {s.l2_relative:g}·tr(ZᵀZ)/D, output layer re-fitted in closed form. Inference times are medians of "
        f"{s.timing_repeats} interleaved runs over the test images (batches of 1000)."
        + (" *Quick run: 2,000 training and 1,000 test images, 1 epoch — not the published numbers.*"
           if ctx.quick else "")
    )
    results["headline"] = _headline(ctx, ex)
    results["variants"] = _variants(ctx, ex)
    results["matched"] = _matched(ctx, ex)
    results["speed"] = _speed(ctx, ex)
    results["calibration"] = _calibration(ctx, ex)
    ctx.results["eugen"] = results
    (ctx.out_dir / "results_eugen.json").write_text(json.dumps(results, indent=1))


def _headline(ctx: RunContext, ex: Experiment) -> dict[str, Any]:
    s, summary, rows = ex.s, {}, []
    for dataset in DATASETS:
        per_seed = []
        for seed in s.seeds:
            teacher = ex.teacher(dataset, seed)
            student = ex.student(dataset, seed, ex.eugen(seed), **_headline_options())
            times = time_inference({"teacher": teacher["model"], "student": student["model"]},
                                   ex.dataset(dataset)[2], s.timing_repeats)
            per_seed.append({"teacher_accuracy": teacher["accuracy"], "teacher_train_seconds": teacher["seconds"],
                             "accuracy": student["accuracy"], "retained": student["retained"],
                             "transfer_seconds": student["seconds"], "trainable": student["trainable"],
                             "fixed": student["fixed"], "teacher_trainable": teacher["model"].n_params,
                             "inference_seconds": times["student"], "teacher_inference_seconds": times["teacher"],
                             "inference_ratio": times["student"] / times["teacher"],
                             "layers": student["report"].as_dict()["layers"]})
        res = {key: _stats([r[key] for r in per_seed]) for key in
               ("teacher_accuracy", "accuracy", "retained", "transfer_seconds", "inference_ratio",
                "teacher_train_seconds", "inference_seconds", "teacher_inference_seconds")}
        res.update(trainable=per_seed[0]["trainable"], fixed=per_seed[0]["fixed"],
                   teacher_trainable=per_seed[0]["teacher_trainable"], seeds=per_seed)
        summary[dataset] = res
        n_teacher, n_student, n_fixed = res["teacher_trainable"], res["trainable"], res["fixed"]
        ratio = res["inference_ratio"]
        rows.append([DATASETS[dataset], _pm(res["teacher_accuracy"]), _pm(res["accuracy"]), _pm(res["retained"]),
                     f"{res['transfer_seconds']['mean']:.1f} (training: {res['teacher_train_seconds']['mean']:.0f})",
                     f"{n_teacher:,} → {n_student:,} ({n_student / n_teacher:.2f})", f"{n_fixed:,}",
                     f"{(n_student + n_fixed) / n_teacher:.2f}", f"{ratio['mean']:.2f} ± {ratio['std']:.2f}"])
    ctx.text("### Headline: transfer without back-propagation (test accuracy %, mean ± std over seeds)")
    ctx.table(["data", "teacher", "EUGen student", "retained (% of teacher)", "transfer s (teacher training s)",
               "trainable (ratio)", "fixed G (from seed)", "values in memory, ratio", "inference time ratio"], rows)
    mnist = summary["mnist"]["retained"]["mean"]
    ctx.text(
        f"The issue asks for at least 95% of the teacher's MNIST accuracy: **{100 * mnist:.1f}% retained "
        f"({'met' if mnist >= 0.95 else 'NOT met'})**. Inference time ratio = student / teacher (below 1: faster). "
        f"The fixed G_ij are regenerated from a seed, so they cost nothing in a saved file but do occupy memory at "
        f"inference (values in memory = trainable + fixed, against the teacher's trainable). The paper reports "
        f"{PAPER['distillation']}, {PAPER['inference']} and {PAPER['memory']} on its (much larger) models."
    )
    return summary


def _variants(ctx: RunContext, ex: Experiment) -> dict[str, Any]:
    s = ex.s
    variants = {
        "merged, student inputs, output re-fit (headline)": _headline_options(),
        "merged, student inputs": {"merge": True, "inputs": "student"},
        "unmerged, student inputs": {"merge": False, "inputs": "student"},
        "unmerged, teacher inputs": {"merge": False, "inputs": "teacher"},
        "data-free (Theorem 3.1), merged": {"merge": True, "method": "data_free"},
        "data-free (Theorem 3.1), unmerged": {"merge": False, "method": "data_free"},
    }
    summary, rows = {}, []
    for name, options in variants.items():
        row = [name]
        for dataset in DATASETS:
            runs = [ex.student(dataset, seed, ex.eugen(seed), **options) for seed in s.seeds]
            res = {"accuracy": _stats([r["accuracy"] for r in runs]), "retained": _stats([r["retained"] for r in runs]),
                   "seconds": _stats([r["seconds"] for r in runs]), "trainable": runs[0]["trainable"],
                   "options": options}
            summary.setdefault(name, {})[dataset] = res
            row += [_pm(res["accuracy"]), _pm(res["retained"], digits=1)]
        mnist = summary[name]["mnist"]
        row[1:1] = [f"{mnist['trainable']:,}", f"{mnist['seconds']['mean']:.1f}"]
        rows.append(row)
    ctx.text(f"### Variants of the transfer (EUGen k = {s.order}, m = {s.m})\n\n"
             "Unmerged: each hidden Dense+ReLU becomes its own EUGen (784→512 and 512→256) and the output layer "
             "is copied. Teacher inputs: each EUGen is fitted on the teacher's activations instead of the "
             "student's. Data-free: A from the teacher's weights (Theorem 3.1) with a Chebyshev fit of ReLU on "
             "[−R, R], R the 99.9th percentile of the calibration pre-activations; no regression.")
    ctx.table(["variant", "trainable", "transfer s (MNIST)", "MNIST acc", "MNIST retained",
               "Fashion acc", "Fashion retained"], rows)
    summary["data_free_noise"] = noise = _data_free_noise(ex)
    ctx.text(
        f"Why the data-free estimator fails here: for the first layer (MNIST, seed {s.seeds[0]}, "
        f"R = {noise['interval']:.1f}) the predicted standard deviation of the Theorem 3.1 estimate "
        f"(`EUGen.predicted_variance`) is **{noise['noise_to_signal']:.0f}x** the "
        f"standard deviation of the polynomial surrogate it estimates, p(xW + b), over {noise['n_images']} "
        f"calibration images: with ‖x₊‖² = 2‖x‖² + 1 ≈ {noise['mean_norm_plus_sq']:.0f} the variance, which grows "
        f"like (‖w₊‖‖x₊‖)^(2i), swamps the signal at m = {s.m}. The regression uses the same features and "
        f"is unaffected: it never relies on the estimator being right on average."
    )
    return summary


def _data_free_noise(ex: Experiment, n_images: int = 200) -> dict[str, float]:
    """Predicted noise of the data-free first layer against the spread of its target (MNIST, first seed)."""
    seed = ex.s.seeds[0]
    student = ex.student("mnist", seed, ex.eugen(seed), merge=False, method="data_free")
    layer, dense = student["model"][0], ex.teacher("mnist", seed)["model"][0]
    interval = student["report"].layers[0].interval
    coefficients = student["report"].layers[0].coefficients  # the transfer's own fit: same activation and method
    x = ex.dataset("mnist")[0][:n_images].astype(np.float64)
    w, b = dense.params["W"].astype(np.float64), dense.params["b"].astype(np.float64)
    surrogate = evaluate_polynomial(coefficients, x @ w + b)
    variance = layer.astype(np.float64).predicted_variance(x, np.ascontiguousarray(w.T), b, coefficients)
    return {"interval": float(interval), "coefficients": list(coefficients), "n_images": n_images,
            "noise_to_signal": float(np.sqrt(variance.mean()) / surrogate.std()),
            "mean_norm_plus_sq": float(np.mean(2 * (x**2).sum(1) + 1))}


def _matched(ctx: RunContext, ex: Experiment) -> dict[str, Any]:
    s = ex.s
    budget_features = 1 + s.m * s.order  # M of the headline layer
    rank = LowRank.rank_for_budget(WIDTHS[0], WIDTHS[2], _matched_budget(s))
    families: dict[str, Any] = {}
    for order in (1, 2, 3):
        m = -(-(budget_features - 1) // order)  # ceil: at least the headline's features
        for norm in (True, False):
            families[f"EUGen k={order}, m={m}" + ("" if norm else ", no norm")] = (
                lambda seed, m=m, order=order, norm=norm: ex.eugen(seed, m, order, norm_term=norm))
    families[f"SNNK relu, D={budget_features}"] = lambda seed: SNNKFactory(budget_features, rng=2000 + seed)
    families[f"low-rank, r={rank}"] = lambda seed: LowRankFactory(rank)
    summary, rows = {}, []
    for name, factory in families.items():
        row = [name]
        for dataset in DATASETS:
            runs = [ex.student(dataset, seed, factory(seed), **_headline_options()) for seed in s.seeds]
            res = {"accuracy": _stats([r["accuracy"] for r in runs]), "retained": _stats([r["retained"] for r in runs]),
                   "trainable": runs[0]["trainable"], "fixed": runs[0]["fixed"]}
            summary.setdefault(name, {})[dataset] = res
            row += [_pm(res["accuracy"]), _pm(res["retained"], digits=1)]
        row[1:1] = [f"{res['trainable']:,}", f"{res['fixed']:,}"]
        rows.append(row)
    ctx.text("### Matched trainable parameters: EUGen orders, the norm term, SNNK and low-rank\n\n"
             f"Every replacement of the merged block has about {_matched_budget(s):,} trainable parameters "
             "(+ the re-fitted output layer, 2,570), all fitted in closed form with the same recipe. SNNK: "
             "relu tower max(xG, 0)/√m, read-out fitted by ridge; low-rank: reduced-rank ridge regression "
             "(a linear map of rank r).")
    ctx.table(["replacement", "trainable", "fixed", "MNIST acc", "MNIST retained", "Fashion acc",
               "Fashion retained"], rows)
    return summary


def _speed(ctx: RunContext, ex: Experiment) -> dict[str, Any]:
    from matplotlib.figure import Figure

    s, dataset = ex.s, "mnist"
    x_test = ex.dataset(dataset)[2]
    points: dict[str, dict[str, Any]] = {}
    for seed in s.seeds:
        models = {"teacher": ex.teacher(dataset, seed)["model"]}
        accuracy = {"teacher": ex.teacher(dataset, seed)["accuracy"]}
        for m in s.sweep_m:
            student = ex.student(dataset, seed, ex.eugen(seed, m), **_headline_options())
            models[f"EUGen m={m}"], accuracy[f"EUGen m={m}"] = student["model"], student["accuracy"]
        for width in s.dense_widths:
            model = teacher_mlp(seed, (784, width, 10))
            _, acc, _ = train_and_score(model, ex.dataset(dataset), epochs=s.epochs, lr=LR, seed=seed,
                                        progress=ctx.progress, label=f"dense 784-{width}-10 seed {seed}")
            models[f"dense 784-{width}-10"], accuracy[f"dense 784-{width}-10"] = model, acc
        times = time_inference(models, x_test, s.timing_repeats)
        for name, model in models.items():
            point = points.setdefault(name, {"accuracy": [], "seconds": [], "ratio": [], "trainable": model.n_params,
                                             "fixed": model.n_buffer_values})
            point["accuracy"].append(accuracy[name])
            point["seconds"].append(times[name])
            point["ratio"].append(times[name] / times["teacher"])
    summary = {name: {"accuracy": _stats(p["accuracy"]), "seconds": _stats(p["seconds"]),
                      "ratio": _stats(p["ratio"]), "trainable": p["trainable"], "fixed": p["fixed"]}
               for name, p in points.items()}
    rows = [[name, f"{r['trainable']:,}", f"{r['fixed']:,}", _pm(r["accuracy"]),
             f"{1000 * r['seconds']['mean']:.0f}", f"{r['ratio']['mean']:.2f}"] for name, r in summary.items()]
    ctx.text(f"### Speed and accuracy on MNIST (EUGen k = {s.order}, merged, output re-fitted; dense MLPs "
             f"784-h-10 trained by back-propagation with the teacher's recipe)\n\n"
             "Time: ms for the 10,000 test images (median of interleaved runs; `OPENBLAS_NUM_THREADS` as set "
             "for the run). Ratio: time / teacher's time, per seed, averaged.")
    ctx.table(["model", "trainable", "fixed", "test acc %", "inference ms", "time ratio to teacher"], rows)
    ctx.text(_speed_verdict(summary))
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    for prefix, style in (("EUGen", "o-"), ("dense 784", "s--")):
        names = [n for n in summary if n.startswith(prefix)]
        ax.plot([1000 * summary[n]["seconds"]["mean"] for n in names],
                [100 * summary[n]["accuracy"]["mean"] for n in names], style,
                label="EUGen students (m sweep)" if prefix == "EUGen" else "dense 784-h-10 (backprop)")
        for n in names:
            ax.annotate(n.split(" ", 1)[1], (1000 * summary[n]["seconds"]["mean"],
                                             100 * summary[n]["accuracy"]["mean"]), fontsize=7)
    teacher = summary["teacher"]
    ax.plot(1000 * teacher["seconds"]["mean"], 100 * teacher["accuracy"]["mean"], "k*", markersize=12,
            label="teacher 784-512-256-10")
    ax.set(xlabel="inference time for 10,000 images (ms)", ylabel="MNIST test accuracy (%)",
           title="speed and accuracy (mean over seeds)")
    ax.legend(fontsize=8)
    ctx.figure(fig, "eugen_speed_accuracy", "MNIST test accuracy against inference time: EUGen students "
               "(closed-form transfer) against the teacher and small dense MLPs trained by back-propagation.")
    return summary


def _calibration(ctx: RunContext, ex: Experiment) -> dict[str, Any]:
    from matplotlib.figure import Figure

    s, dataset = ex.s, "mnist"
    summary = {}
    for n in s.calibration_sizes:
        runs = [ex.student(dataset, seed, ex.eugen(seed), n_calibration=n, **_headline_options())
                for seed in s.seeds]
        summary[n] = {"retained": _stats([r["retained"] for r in runs]),
                      "seconds": _stats([r["seconds"] for r in runs])}
    ctx.text("### Calibration-set size (MNIST, headline settings)")
    ctx.table(["calibration images", "retained %", "transfer s"],
              [[f"{n:,}", _pm(r["retained"], digits=1), f"{r['seconds']['mean']:.1f}"] for n, r in summary.items()])
    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    sizes = list(summary)
    ax.errorbar(sizes, [100 * summary[n]["retained"]["mean"] for n in sizes],
                yerr=[100 * summary[n]["retained"]["std"] for n in sizes], fmt="o-", capsize=3)
    ax.axhline(95, color="k", linestyle="--", linewidth=1, label="95% (the issue's bar)")
    ax.set(xscale="log", xlabel="calibration images N", ylabel="% of teacher accuracy retained",
           title=f"EUGen k={s.order}, m={s.m}, MNIST")
    ax.legend(fontsize=8)
    ctx.figure(fig, "eugen_calibration", "Retained accuracy against the number of calibration images.")
    return {str(n): r for n, r in summary.items()}


def _speed_verdict(summary: dict[str, Any]) -> str:
    """One sentence: the most accurate EUGen student faster than the teacher, and the dense MLP beside it."""
    teacher = summary["teacher"]["accuracy"]["mean"]
    faster = [n for n in summary if n.startswith("EUGen") and summary[n]["ratio"]["mean"] < 1]
    if not faster:
        return "No EUGen student of the sweep runs faster than the teacher."
    best = max(faster, key=lambda n: summary[n]["accuracy"]["mean"])
    res = summary[best]
    text = (f"The most accurate EUGen student that runs faster than the teacher is **{best}**: "
            f"{res['ratio']['mean']:.2f}x the teacher's time, {100 * res['accuracy']['mean'] / teacher:.1f}% of its "
            f"accuracy, {res['trainable'] / summary['teacher']['trainable']:.2f}x its trainable parameters.")
    dense = [n for n in summary if n.startswith("dense") and summary[n]["accuracy"]["mean"] >= res["accuracy"]["mean"]]
    if dense:
        match = min(dense, key=lambda n: summary[n]["seconds"]["mean"])
        text += (f" At equal or better accuracy, the dense **{match.split(' ', 1)[1]}** trained by back-propagation "
                 f"needs {summary[match]['seconds']['mean'] / res['seconds']['mean']:.2f}x the EUGen student's time.")
    return text
