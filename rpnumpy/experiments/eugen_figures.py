"""The figures and the verdict sentence of the 'eugen' chapter's speed and calibration sections."""

from __future__ import annotations

from typing import Any

from .eugen import Settings
from .report import RunContext


def speed_figure(ctx: RunContext, summary: dict[str, Any]) -> None:
    """MNIST test accuracy against inference time: EUGen students, the teacher and small dense MLPs."""
    from matplotlib.figure import Figure

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


def calibration_figure(ctx: RunContext, s: Settings, summary: dict[str, Any]) -> None:
    """Retained accuracy against the number of calibration images."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.5, 3.6))
    ax = fig.subplots()
    sizes = [int(n) for n in summary]
    ax.errorbar(sizes, [100 * summary[str(n)]["retained"]["mean"] for n in sizes],
                yerr=[100 * summary[str(n)]["retained"]["std"] for n in sizes], fmt="o-", capsize=3)
    ax.axhline(95, color="k", linestyle="--", linewidth=1, label="95% (the issue's bar)")
    ax.set(xscale="log", xlabel="calibration images N", ylabel="% of teacher accuracy retained",
           title=f"EUGen k={s.order}, m={s.m}, MNIST")
    ax.legend(fontsize=8)
    ctx.figure(fig, "eugen_calibration", "Retained accuracy against the number of calibration images.")


def speed_verdict(summary: dict[str, Any]) -> str:
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
