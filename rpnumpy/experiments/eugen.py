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

Units: one teacher per (data set, seed) (:func:`teacher_unit`, its model saved beside its result
so that later units load it instead of training it again), then one unit per section and
(data set, seed): the transfers of that teacher that the section shows. The sections are in
:mod:`rpnumpy.experiments.eugen_sections`.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..io import load_model, save_model
from ..models import teacher_mlp
from ..training import evaluate, predict
from ..transfer import EUGenFactory, transfer
from . import units
from .half import DATASETS, train_and_score
from .report import RunContext

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


def settings_from(config: dict[str, Any]) -> Settings:
    """The :class:`Settings` stored in a unit's config (lists back to tuples)."""
    return Settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})


def settings_config(s: Settings) -> dict[str, Any]:
    return units.jsonable(asdict(s))


def teacher_config(s: Settings, dataset: str, seed: int) -> dict[str, Any]:
    return {"dataset": dataset, "seed": seed, "epochs": s.epochs, "lr": LR,
            "subset": list(s.subset) if s.subset else None, "widths": list(WIDTHS)}


def teacher_unit(config: dict[str, Any]) -> dict[str, Any]:
    """Train the teacher MLP; save it in the units' file folder; its test accuracy and the file's name."""
    data = units.dataset(config["dataset"], config["subset"])
    model = teacher_mlp(config["seed"], tuple(config["widths"]))
    _, test_acc, seconds = train_and_score(model, data, epochs=config["epochs"], lr=config["lr"],
                                           seed=config["seed"], progress=False, label="teacher")
    name = units.unit_key(teacher_unit, config) + ".npz"
    save_model(model, units.artifact_dir() / name)
    return {"accuracy": test_acc, "seconds": seconds, "file": name, "trainable": model.n_params}


class Experiment:
    """Data, teachers and transfers of one chapter run (each teacher trained once, each transfer run once).

    Teachers come from :func:`teacher_unit` (stored, or trained and stored now); ``ctx``, if given,
    says where the data is.
    """

    def __init__(self, ctx: RunContext | None, settings: Settings) -> None:
        if ctx is not None:
            env = units.environment()
            units.environment(units.Environment(out_dir=ctx.out_dir, data_dir=ctx.data_dir, download=ctx.download,
                                                store=env.store, data=env.data))
        self.s = settings
        self.teachers: dict[tuple[str, int], dict[str, Any]] = {}
        self.students: dict[tuple, dict[str, Any]] = {}

    def dataset(self, name: str) -> tuple:
        return units.dataset(name, self.s.subset)

    def teacher(self, dataset: str, seed: int) -> dict[str, Any]:
        key = (dataset, seed)
        if key not in self.teachers:
            result = units.result_of(teacher_unit, teacher_config(self.s, dataset, seed))
            model = load_model(units.artifact_dir() / result["file"])
            self.teachers[key] = {"model": model, "accuracy": result["accuracy"], "seconds": result["seconds"]}
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


_EXPERIMENTS: dict[tuple, Experiment] = {}


def experiment(s: Settings) -> Experiment:
    """The process's :class:`Experiment` for these settings and data (transfers shared by the sections' units)."""
    env = units.environment()
    key = (s, env.data_dir, os.environ.get("RPNUMPY_DATA"), id(env.data))
    if key not in _EXPERIMENTS:
        _EXPERIMENTS.clear()
        _EXPERIMENTS[key] = Experiment(None, s)
    return _EXPERIMENTS[key]


def _headline_options() -> dict[str, Any]:
    return {"merge": True, "refit_dense": True, "inputs": "student"}


def _matched_budget(s: Settings) -> int:
    """Trainable parameters of the headline EUGen(784→256): M·256 + 256 with M = 1 + m k."""
    return (1 + s.m * s.order) * WIDTHS[2] + WIDTHS[2]


def _intro(ctx: RunContext) -> None:
    s = QUICK if ctx.quick else FULL
    ctx.results["eugen"] = {"settings": {**settings_config(s), "lr": LR, "widths": list(WIDTHS), "quick": ctx.quick},
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


def teacher_units(quick: bool) -> list[dict[str, Any]]:
    s = QUICK if quick else FULL
    return [teacher_config(s, dataset, seed) for dataset in DATASETS for seed in s.seeds]


def teacher_render(ctx: RunContext, results: list) -> None:
    """Nothing to show on its own: the teachers appear in the headline table."""


def teacher_cost(config: dict[str, Any]) -> float:
    return 2.0 + 6.0 * config["epochs"] * (config["subset"][0] / 60_000 if config["subset"] else 1.0)


from .eugen_sections import SECTIONS  # noqa: E402  (the sections use the definitions above)
from .report import Section, chapter  # noqa: E402

CHAPTER = chapter("eugen", "EUGen layers: closed-form transfer of a trained MLP, without back-propagation",
                  intro=_intro, sections=[Section("teachers", teacher_units, teacher_unit, teacher_render, teacher_cost,
                                                  lambda c: f"teacher {c['dataset']} seed {c['seed']}"), *SECTIONS])


from . import eugen_speed, layer_approximation  # noqa: E402
from ._closer_common import closer_section  # noqa: E402

CHAPTER.add_section(closer_section(
    eugen_speed, {"eugen_speed_crossover.png": "Inference time of EUGen(d→d, order 2, m directions) over "
                  "Dense(d→d) + ReLU against d, and the approximation error at each point."},
    cost=lambda config: 2.0))
CHAPTER.add_section(closer_section(
    layer_approximation, {"layer_approximation.png": "Relative error of one dense layer's outputs against "
                          "trainable parameters: EUGen orders 1-3 with and without the norm term, SNNK and "
                          "low-rank, each fitted in closed form."}, cost=lambda config: 15.0))


def run(ctx: RunContext) -> None:
    """Run this chapter into ``ctx``, its units stored under ``ctx.out_dir / "units"`` (:meth:`.report.Chapter.run`)."""
    CHAPTER.run(ctx)
