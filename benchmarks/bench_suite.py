"""The whole benchmark suite (``make bench``): every model against PyTorch, the matmul peak, memory, files, SRHT.

Steps, in this order:

1. the float32 matrix-multiply peak (:mod:`bench_peak`, square 2048-4096, best of 5), and the
   models' first-layer products timed in NumPy and in PyTorch alone (:func:`bench_peak.compare_blas`);
2. per model, **one process** running :mod:`bench_mlp` (rpnumpy and PyTorch in
   turn, interleaved rounds, medians), with one extra rpnumpy epoch under
   cProfile. Before each model the suite waits (up to ``--wait`` seconds) for
   other processes to use less than ``--max-busy`` of the CPUs; after it, if other
   processes used more than ``--noisy`` of the CPUs during the timed epochs
   (median over epochs), the model is run again, up to ``--retries`` times, and
   the quietest run is kept (every attempt is recorded); so is a run whose
   training times spread by more than 25% (max/min), a drift of the shared
   machine that no process inside it explains;
3. per model and framework, peak resident memory of one training epoch in a
   fresh process (:mod:`bench_memory`);
4. model file sizes with seeds against stored matrices (``rpnumpy.io.model_file_size``);
5. the SRHT against a dense Gaussian projection, d = 64 ... 16384, k = 64, 256, 1024 (:mod:`bench_srht`);
6. the peak again (the machine's speed drifts; the higher of the two is used);
7. with ``--closed-form results_snnk.json``, the closed-form-against-Adam races of a full SNNK
   chapter run (:func:`closed_form_results`; timed by that chapter, not here);
8. the demo (``python -m rpnumpy demo``, ``make demo``): ``--demo-runs`` runs (3 by default; 0, or
   ``--no-demo``, skips the step), each in a fresh process, wall-clock and CPU time (user + system
   of the child), median and spread (:func:`time_demo`). Its target is 300 s wall on 2 cores.

Everything goes to a JSON file and to ``RESULTS.md`` (machine, date, tables,
profiles, and the hand-written interpretation in ``benchmarks/analysis.md``
when that file exists).

Usage::

    python benchmarks/bench_suite.py [--repeats 7] [--models mlp half ...] [--out benchmarks/RESULTS.md]
                                     [--json benchmarks/results_suite.json] [--max-busy 0.05] [--retries 2]
                                     [--demo-runs 3 | --no-demo]

``--quick`` runs everything on a small synthetic data set (for tests: the
numbers then mean nothing); ``--render results.json`` only re-renders
``RESULTS.md`` from an earlier run (after editing ``analysis.md``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_mlp  # noqa: E402
import bench_peak  # noqa: E402
import bench_srht  # noqa: E402

from rpnumpy.io import model_file_size  # noqa: E402

__all__ = ["DEMO_TARGET_SECONDS", "TARGETS", "closed_form_results", "file_sizes", "main", "run_suite", "summary_table",
           "time_demo", "write_results_md"]

#: The demo's target: at most this many seconds of wall-clock time (median of the runs) on 2 cores.
DEMO_TARGET_SECONDS = 300.0

#: The issue's targets: rpnumpy/PyTorch ratios (at most) and the Dense MLP's share of the matmul peak (at least).
TARGETS = {"train_ratio": 0.8, "inference_ratio": 1.0, "mlp_peak_fraction": 0.5}
#: Median share of the CPUs used by other processes during a model's timed epochs above which it is re-run.
NOISY = 0.10
#: Spread of a framework's training times (max/min - 1) above which a model is re-run.
SPREAD = 0.25
_RACE_KEYS = ("n_train", "n_features", "closed_seconds", "closed_test_mse", "closed_test_accuracy", "adam_lr",
              "adam_reached", "adam_seconds", "adam_best_test_mse", "time_ratio")


def closed_form_results(path: Path) -> dict[str, Any]:
    """The closed-form-against-Adam races of a full SNNK chapter run, as RESULTS.md shows them.

    ``path`` is the ``results_snnk.json`` written by ``python -m rpnumpy reproduce snnk`` (or by
    ``make demo``). The races are timed there, not by this suite, because they belong to the SNNK
    experiment (same models, data and penalty grid). A quick run's file is refused: its data subsets
    make the times meaningless.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"closed-form results {path} cannot be read as JSON: {exc}") from exc
    races = data.get("race") if isinstance(data, dict) else None
    if not isinstance(races, dict) or not races:
        raise ValueError(f"{path} holds no 'race' results: pass the results_snnk.json written by "
                         "`python -m rpnumpy reproduce snnk`")
    if data.get("quick"):
        raise ValueError(f"{path} comes from a quick run (--quick), whose times mean nothing: run the chapter in full")
    written = datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.timezone.utc)
    return {"source": str(path), "seed": data.get("seed"), "written_utc": written.isoformat(timespec="seconds"),
            "races": {name: {k: race[k] for k in _RACE_KEYS if k in race} for name, race in races.items()}}


def _closed_form_lines(closed_form: dict[str, Any] | None) -> list[str]:
    lines = ["## Closed form against back-propagation", ""]
    if closed_form is None:
        return lines + ["Not in this run: pass `--closed-form reports/snnk/results_snnk.json` after "
                        "`python -m rpnumpy reproduce snnk` (`make bench` does when that file exists).", ""]
    lines += [f"Fully bundled SNNK networks (README, \"SNNK layers and bundling\"): the closed form (features, ZᵀZ "
              "and ZᵀY in one streaming pass, the penalty chosen on held-out training rows, a solve) against Adam "
              "training the same model's head, until Adam's test MSE first reaches the closed form's; where it never "
              "does within its budget, Adam's time to its own best. Timed by the SNNK chapter "
              f"(`{closed_form['source']}`, seed {closed_form['seed']}, written {closed_form['written_utc']}), "
              "not by this suite.", "",
              "| task | rows | D | closed form | its test MSE | Adam | Adam's best test MSE | Adam / closed form |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, race in closed_form["races"].items():
        adam = _ms(race["adam_seconds"]) + ("" if race["adam_reached"] else " (its best; never reached)")
        accuracy = race.get("closed_test_accuracy")
        closed_mse = f"{race['closed_test_mse']:.4f}" + ("" if accuracy is None else f" ({accuracy:.2%})")
        lines.append(f"| {name} | {race['n_train']:,} | {race['n_features']} | {_ms(race['closed_seconds'])} "
                     f"| {closed_mse} | {adam} | {race['adam_best_test_mse']:.4f} | {race['time_ratio']:.1f}x |")
    return lines + [""]


def _load1() -> float | None:
    """The 1-minute load average (:func:`bench_mlp._load_average`'s first value), or None."""
    return (bench_mlp._load_average() or [None])[0]


def _others_busy(seconds: float = 3.0) -> float | None:
    """Share of the machine's CPUs that other processes use, sampled over ``seconds`` while this one sleeps.

    A better signal than the load average, which decays over a minute and so still counts the suite's own
    previous run.
    """
    clock = bench_mlp._cpu_clock()
    time.sleep(seconds)
    return bench_mlp._others_share(clock)


def _wait_for_quiet(max_busy: float, wait: float, log: Any, *, sample: float = 3.0) -> float | None:
    """Wait until other processes use less than ``max_busy`` of the CPUs, or ``wait`` seconds passed.

    Returns the last measured share (None where it cannot be measured).
    """
    deadline = time.monotonic() + wait
    busy = _others_busy(sample)
    while busy is not None and busy > max_busy and time.monotonic() < deadline:
        log(f"  other processes use {busy:.0%} of the CPUs (load average {_load1()}): waiting")
        time.sleep(10.0)
        busy = _others_busy(sample)
    return busy


def _run_json(command: list[str], log: Any) -> dict[str, Any]:
    """Run a benchmark script in a fresh Python process; return the JSON it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        full = [sys.executable, *command, "--json", str(out)]
        log("  $ " + " ".join(full[1:]))
        completed = subprocess.run(full, capture_output=True, text=True)
        if completed.returncode not in (0, 1) or not out.exists():  # 1: bench_mlp's sanity check failed
            raise RuntimeError(f"{command[0]} failed ({completed.returncode}):\n{completed.stderr[-3000:]}")
        return json.loads(out.read_text())


def _noise(report: dict[str, Any]) -> float:
    """Median share of the CPUs other processes used during the timed epochs of both frameworks."""
    shares = [v for fw in ("rpnumpy", "torch") if report["results"].get(fw)
              for v in report["results"][fw]["others_cpu_share"] if v is not None]
    return statistics.median(shares) if shares else 0.0


def _spread(report: dict[str, Any]) -> float:
    """Largest max/min - 1 of the training times of either framework: drift that other processes do not explain.

    On a shared VM the machine's speed also drifts for reasons invisible from inside (other VMs on the host).
    """
    spreads = [fw["train_seconds"]["max"] / fw["train_seconds"]["min"] - 1.0
               for fw in (report["results"]["rpnumpy"], report["results"].get("torch")) if fw]
    return max(spreads)


def time_demo(runs: int = 3, *, quick: bool = False, log: Any = print) -> dict[str, Any]:
    """Run ``python -m rpnumpy demo`` ``runs`` times, each in a fresh process; wall and CPU seconds of each.

    CPU time is the user + system time of the child process (all its threads), from
    ``resource.getrusage(RUSAGE_CHILDREN)`` before and after; on a busy machine the wall time
    grows but the CPU time does not, so both are kept. ``spread`` is (max - min) / median.
    """
    walls, cpus = [], []
    env = {**os.environ, "MPLBACKEND": "Agg"}
    for i in range(runs):
        with tempfile.TemporaryDirectory(prefix="rpnumpy-demo-") as out:
            command = [sys.executable, "-m", "rpnumpy", "demo", "--out", out, "--no-download"]
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command + (["--quick"] if quick else []), check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            walls.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        log(f"demo run {i + 1}/{runs}: {walls[-1]:.1f} s wall, {cpus[-1]:.1f} s CPU")

    def stats(values: list[float]) -> dict[str, Any]:
        median = statistics.median(values)
        return {"runs": values, "median": median, "min": min(values), "max": max(values),
                "spread": (max(values) - min(values)) / median if median else 0.0}

    return {"quick": quick, "wall": stats(walls), "cpu": stats(cpus), "load_average_at_end": _load1(),
            "target_seconds": DEMO_TARGET_SECONDS}


def _demo_lines(demo: dict[str, Any] | None) -> list[str]:
    lines = ["## The demo (`make demo`)", ""]
    if not demo:
        return lines + ["Not in this run (`--no-demo` or `--demo-runs 0`).", ""]
    wall, cpu = demo["wall"], demo["cpu"]
    met = "met" if wall["median"] <= demo["target_seconds"] else "NOT met"
    lines += [f"`python -m rpnumpy demo`{' --quick' if demo['quick'] else ''}, {len(wall['runs'])} runs, each in a "
              f"fresh process: median **{wall['median']:.0f} s wall** (spread {100 * wall['spread']:.0f}%: "
              f"{wall['min']:.0f}–{wall['max']:.0f} s), {cpu['median']:.0f} s CPU (user + system, all threads). "
              f"Target: at most {demo['target_seconds']:.0f} s wall on 2 cores: **{met}**.", "",
              "| run | wall | CPU |", "| ---: | ---: | ---: |"]
    lines += [f"| {i} | {w:.1f} s | {c:.1f} s |" for i, (w, c) in enumerate(zip(wall["runs"], cpu["runs"]), start=1)]
    return lines + [""]


def file_sizes(models: list[str]) -> dict[str, dict[str, int]]:
    """Bytes of each rpnumpy benchmark model's file: fixed matrices as seeds, and stored."""
    sizes = {}
    for name in models:
        net, _ = bench_mlp.build_rpnumpy_model(0, name)
        sizes[name] = {
            "trainable": int(net.n_params),
            "fixed": int(net.n_buffer_values),
            "seeds_bytes": model_file_size(net),
            "stored_bytes": model_file_size(net, store_buffers=True),
        }
    return sizes


def run_suite(
    models: list[str], *, repeats: int = 7, quick: bool = False, max_busy: float = 0.05, wait: float = 600.0,
    retries: int = 2, threads: int | None = None, srht_dims: tuple[int, ...] = bench_srht.DEFAULT_DIMS,
    srht_ks: tuple[int, ...] = (64, bench_srht.DEFAULT_K, 1024), log: Any = print,
) -> dict[str, Any]:
    """Run every step (see the module docstring) and return all results as one dictionary."""
    threads = bench_mlp.configure_threads(threads)
    data_args = ["--synthetic", "--n-train", "512", "--n-test", "300"] if quick else []
    peak_sizes = (128, 256) if quick else bench_peak.DEFAULT_SIZES
    started = datetime.datetime.now(datetime.timezone.utc)
    log(f"suite: models {models}, {repeats} timed rounds each, {threads} thread(s)")
    peak_before = bench_peak.measure_matmul_peak(peak_sizes)
    log(f"float32 matmul peak: {peak_before['peak_gflops']:.1f} GFLOP/s")
    log("the models' first-layer products in NumPy and in PyTorch")
    blas = bench_peak.compare_blas(((128, 784, 256), (128, 784, 512)) if quick else bench_peak.MODEL_PRODUCTS,
                                   rounds=2 if quick else 7, pause=0.0 if quick else 0.5)

    def compare(name: str, extra: list[str]) -> dict[str, Any]:
        """Run bench_mlp for one model in a fresh process (again while noisy); return the quietest run."""
        attempts = []
        for _ in range(1 + retries):
            busy = _wait_for_quiet(max_busy, 0.0 if quick else wait, log, sample=0.1 if quick else 3.0)
            command = [str(HERE / "bench_mlp.py"), "--model", name, "--repeats", str(repeats), "--quiet",
                       "--threads", str(threads), "--peak-gflops", f"{peak_before['peak_gflops']:.3f}",
                       "--profile", "12", *data_args, *extra]
            if quick:
                command += ["--epochs-warmup", "0", "--pause", "0"]
            report = _run_json(command, log)
            report["others_busy_at_start"] = busy
            report["load_average_at_start"] = _load1()
            attempts.append(report)
            noise, spread = _noise(report), _spread(report)
            ratio = report["results"]["ratio"]
            log(f"  {name} {' '.join(extra)}: train ratio {ratio['train']}, inference ratio {ratio['inference']}, "
                f"other processes {noise:.0%} of the CPUs, training times spread {spread:.0%}")
            for problem in _sanity_problems(report):
                log(f"  {name}: sanity check failed: {problem}")
            if noise <= NOISY and spread <= SPREAD:
                break
            log(f"  {name}: noisy run (others > {NOISY:.0%} or spread > {SPREAD:.0%}), running it again")
        best = min(attempts, key=lambda a: (_noise(a) > NOISY, _spread(a)))
        best["attempt_noise"] = [_noise(a) for a in attempts]
        best["attempt_spread"] = [_spread(a) for a in attempts]
        return best

    comparisons = {name: compare(name, []) for name in models}
    # PyTorch's Adam has an opt-in fused kernel on the CPU; the main comparison uses its default, as rpnumpy's
    # users would, and this one shows what the faster setting changes (MLP only).
    extra_comparisons = {}
    if "mlp" in models and bench_mlp.torch is not None:
        extra_comparisons["mlp, PyTorch Adam(fused=True)"] = compare("mlp", ["--torch-fused-adam"])

    memory: dict[str, Any] = {}
    for name in models:
        for framework in ("rpnumpy", "torch"):
            if framework == "torch" and bench_mlp.torch is None:
                continue
            memory.setdefault(name, {})[framework] = _run_json(
                [str(HERE / "bench_memory.py"), "--model", name, "--framework", framework,
                 "--threads", str(threads), *data_args], log)

    log("file sizes")
    sizes = file_sizes(models)
    srht = {}
    for k in srht_ks:
        log(f"SRHT against dense, k = {k}")
        rows = bench_srht.time_projections(srht_dims, k, repeats=3 if quick else 15)
        srht[str(k)] = {"rows": rows, "crossover": {d: bench_srht.crossover(rows, d) for d in ("forward", "backward")}}
    peak_after = bench_peak.measure_matmul_peak(peak_sizes)
    peak = max(peak_before["peak_gflops"], peak_after["peak_gflops"])
    for report in [*comparisons.values(), *extra_comparisons.values()]:  # against the higher of the two peaks
        report["results"]["peak_fraction"] = bench_mlp.peak_fractions(report["results"], peak)
    return {
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "repeats": repeats,
        "threads": threads,
        "machine": bench_mlp.machine_info(),
        "peak": {"before": peak_before, "after": peak_after, "used_gflops": peak},
        "blas": blas,
        "comparisons": comparisons,
        "extra_comparisons": extra_comparisons,
        "memory": memory,
        "file_sizes": sizes,
        "srht": srht,
    }


# --------------------------------------------------------------------------- RESULTS.md


#: Times of epochs and races: ``1.234 s`` or ``56.7 ms`` (bench_mlp's own report uses the same).
_ms = bench_mlp._fmt_seconds


def _precise(seconds: float | None) -> str:
    """A time to three significant digits, in s, ms or µs (the SRHT's projections take microseconds).

    ``_ms`` rounds to 0.1 ms, which shows a 40 µs projection as ``0.0 ms``.
    """
    if seconds is None:
        return "n/a"
    # the largest unit in which the value, rounded first (0.9996 ms is 1.00 ms), is at least 1
    scale, unit = next(((scale, unit) for scale, unit in ((1.0, "s"), (1e-3, "ms"))
                        if float(f"{seconds / scale:.3g}") >= 1), (1e-6, "µs"))
    value = float(f"{seconds / scale:.3g}")
    decimals = max(0, 2 - math.floor(math.log10(value))) if value > 0 else 0
    return f"{value:.{decimals}f} {unit}"


def _sanity_problems(report: dict[str, Any]) -> list[str]:
    """bench_mlp's failed sanity checks (a final test accuracy too low) of one comparison; empty when it passed."""
    return list((report.get("sanity") or {}).get("problems") or [])


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _kib(n: int) -> str:
    return f"{n / 1024:,.0f} KiB" if n < 1024**2 else f"{n / 1024**2:,.1f} MiB"


def _labelled(results: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(model name, label, report) of every comparison, the main ones first."""
    rows = [(name, bench_mlp.MODELS[name].description, report) for name, report in results["comparisons"].items()]
    rows += [(report["config"]["model"], label, report)
             for label, report in results.get("extra_comparisons", {}).items()]
    return rows


def summary_table(results: dict[str, Any]) -> list[str]:
    """The short table (one row per comparison) for the README."""
    rows = [
        "| model | rpnumpy epoch | PyTorch epoch | train ratio | inference ratio "
        "| % of matmul peak (rpnumpy / PyTorch) | training peak RSS increment (rpnumpy / PyTorch) "
        "| file: seeds / stored |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, label, report in _labelled(results):
        res = report["results"]
        rp, tc = res["rpnumpy"], res["torch"]
        frac = res["peak_fraction"]
        mem = results["memory"].get(name, {})
        inc = [mem.get(fw, {}).get("training_increment_mib") for fw in ("rpnumpy", "torch")]
        size = results["file_sizes"][name]
        if _sanity_problems(report):
            label += " (**sanity check failed**)"
        rows.append(
            f"| {label} | {_ms(rp['train_seconds']['median'])} "
            f"| {_ms(tc['train_seconds']['median']) if tc else 'n/a'} | {_ratio(res['ratio']['train'])} "
            f"| {_ratio(res['ratio']['inference'])} | {_pct(frac['rpnumpy'])} / {_pct(frac['torch'])} "
            f"| {'n/a' if inc[0] is None else f'{inc[0]:.0f}'} / {'n/a' if inc[1] is None else f'{inc[1]:.0f}'} MiB "
            f"| {_kib(size['seeds_bytes'])} / {_kib(size['stored_bytes'])} |"
        )
    return rows


def _targets(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, report in results["comparisons"].items():
        ratio = report["results"]["ratio"]
        for key, limit in (("train", TARGETS["train_ratio"]), ("inference", TARGETS["inference_ratio"])):
            value = ratio[key]
            verdict = "n/a" if value is None else ("met" if value <= limit else "**missed**")
            shown = "n/a" if value is None else f"{value:.3f}"  # three digits: 0.795 and 1.001 fall on either side
            lines.append(f"- {name}: {key} ratio {shown} (target <= {limit}): {verdict}")
    if "mlp" in results["comparisons"]:
        frac = results["comparisons"]["mlp"]["results"]["peak_fraction"]["rpnumpy"]
        verdict = "met" if frac >= TARGETS["mlp_peak_fraction"] else "**missed**"
        lines.append(f"- mlp: training at {frac:.1%} of the matmul peak (target >= 50%): {verdict}")
    return lines


def _machine_lines(results: dict[str, Any]) -> list[str]:
    mach = results["machine"]
    blas, t = mach["numpy_blas"], mach["torch"]
    peak = results["peak"]
    per_size = ", ".join(f"{n}: {row['gflops']:.0f}" for n, row in peak["before"]["per_size"].items())
    per_size_after = ", ".join(f"{n}: {row['gflops']:.0f}" for n, row in peak["after"]["per_size"].items())
    return [
        f"- date (UTC): {results['started_utc']} to {results['finished_utc']}",
        f"- CPU: {mach['cpu_model']} ({', '.join(mach['cpu_simd'])}); {mach['logical_cpus']} logical CPUs, "
        f"{mach['usable_cpus']} usable",
        f"- Python {mach['python']}, NumPy {mach['numpy']} with BLAS {blas['library']} {blas['version']} "
        f"(kernel {blas['architecture']}, via {blas['source']}), {results['threads']} thread(s)",
        "- PyTorch: " + ("not installed" if t is None else
                         f"{t['version']}, BLAS {t['blas']}, CPU capability {t['cpu_capability']}, "
                         f"{results['threads']} thread(s)"),
        f"- float32 matmul peak (square matrices, best of {peak['before']['repeats']}, GFLOP/s): before the runs "
        f"{per_size}; after {per_size_after}; used: **{peak['used_gflops']:.0f} GFLOP/s** (the higher)",
    ]


def _comparison_section(label: str, report: dict[str, Any]) -> list[str]:
    res = report["results"]
    rp, tc = res["rpnumpy"], res["torch"]
    flops = res["matmul_flops"]
    lines = [f"### {label}", ""]
    problems = _sanity_problems(report)
    if problems:
        lines += ["**Sanity check failed** (bench_mlp exited with status 1; these times are published anyway): "
                  + "; ".join(problems) + ".", ""]
    torch_adam = report["config"].get("torch_adam", "default")
    lines.append(f"Adam lr {report['config']['lr']:g} (PyTorch's Adam: {torch_adam}), "
                 f"{report['config']['repeats']} timed rounds after "
                 f"{report['config']['epochs_warmup']} warm-up epoch(s); data {report['config']['data']} "
                 f"({report['config']['n_train']:,} / {report['config']['n_test']:,} images).")
    lines.append("")
    lines.append("| | rpnumpy | PyTorch | rpnumpy/PyTorch |")
    lines.append("| --- | ---: | ---: | ---: |")
    for key, label in (("train_seconds", "training epoch"), ("inference_seconds", "inference pass")):
        ratio = res["ratio"]["train" if key == "train_seconds" else "inference"]
        lines.append(f"| {label}, median | {_ms(rp[key]['median'])} | {_ms(tc[key]['median']) if tc else 'n/a'} "
                     f"| {_ratio(ratio)} |")
        lines.append(f"| {label}, min .. max | {_ms(rp[key]['min'])} .. {_ms(rp[key]['max'])} "
                     f"| {(_ms(tc[key]['min']) + ' .. ' + _ms(tc[key]['max'])) if tc else 'n/a'} | |")
    lines.append(f"| test accuracy after {rp['epochs']} epochs | {rp['test_accuracy']:.4f} "
                 f"| {'n/a' if tc is None else format(tc['test_accuracy'], '.4f')} | |")
    frac = res["peak_fraction"]
    lines.append(f"| share of the matmul peak in training | {_pct(frac['rpnumpy'])} | {_pct(frac['torch'])} | |")
    lines.append("")
    paired = res.get("paired_ratio") or {}
    shares = [v for fw in (rp, tc) if fw for v in fw["others_cpu_share"] if v is not None]
    loads = [v[0] for fw in (rp, tc) if fw for v in fw.get("load_average", []) if v]
    lines.append(
        f"Matrix-product FLOPs: {flops['train_epoch'] / 1e9:.2f} GFLOP per training epoch (forward and backward, "
        f"as rpnumpy computes them), {flops['inference'] / 1e9:.2f} GFLOP per inference pass. "
        f"Other processes used {_pct(max(shares) if shares else None)} of the CPUs at most during the timed epochs; "
        f"1-minute load average {min(loads) if loads else 'n/a'} .. {max(loads) if loads else 'n/a'} "
        f"(at start {report.get('load_average_at_start')}, other processes then "
        f"{_pct(report.get('others_busy_at_start'))}); attempts' noise "
        f"{[f'{v:.0%}' for v in report.get('attempt_noise', [])]}, spread of training times "
        f"{[f'{v:.0%}' for v in report.get('attempt_spread', [])]}. Median of the per-round ratios: training "
        f"{_ratio(paired.get('train'))}, inference {_ratio(paired.get('inference'))}."
    )
    profile = res.get("rpnumpy_profile")
    if profile:
        lines += ["", f"rpnumpy profile of one more epoch (cProfile, {profile['total_seconds']:.3f} s in all; own "
                  "time, which includes the NumPy/BLAS calls a function makes):", "",
                  "| function | calls | own time | share |", "| --- | ---: | ---: | ---: |"]
        for row in profile["rows"][:8]:
            lines.append(f"| `{row['function']}` | {row['calls']} | {row['own_seconds']:.3f} s "
                         f"| {row['own_seconds'] / profile['total_seconds']:.0%} |")
    return lines + [""]


def _blas_lines(blas: list[dict[str, Any]] | None) -> list[str]:
    """The models' first-layer products timed in NumPy and in PyTorch alone (:func:`bench_peak.compare_blas`)."""
    if not blas:
        return []
    lines = ["## The same matrix products in NumPy and in PyTorch", "",
             "The product `x @ W` of each model's first layer, at the training batch (128 rows) and the inference "
             "batch (1000), timed in NumPy's BLAS and in PyTorch's with nothing else around it (`bench_peak.py "
             "--compare-torch`; best of 7 alternating rounds of 20 products). A model's ratio above cannot be "
             "much below this one where the product dominates its time.", "",
             "| x @ W | NumPy | PyTorch | NumPy/PyTorch |", "| --- | ---: | ---: | ---: |"]
    for row in blas:
        n, d, k = row["shape"]
        lines.append(f"| {n} x {d} @ {d} x {k} | {_precise(row['numpy_seconds'])} | {_precise(row['torch_seconds'])} "
                     f"| {row['ratio']:.2f} |")
    return lines + [""]


def write_results_md(results: dict[str, Any], path: Path, *, analysis: Path | None = None) -> str:
    """Render the results as Markdown, write them to ``path`` and return the text."""
    lines = ["# Benchmark results", ""]
    if results["quick"]:
        lines += ["**Quick run on synthetic data: these numbers mean nothing.**", ""]
    lines += ["Written by `benchmarks/bench_suite.py` (`make bench`); the method is in "
              "[README.md](README.md). Never edit the numbers by hand: re-run the suite.", "", "## Machine", ""]
    lines += _machine_lines(results) + ["", "## Summary", ""]
    lines += summary_table(results) + [""]
    lines += ["Ratios are rpnumpy / PyTorch of the medians (below 1: rpnumpy faster). The matmul share counts only "
              "matrix-product FLOPs of forward and backward. The memory column is the rise of the resident set "
              "during one epoch (details below).", "", "Targets of the issue:", ""]
    lines += _targets(results) + [""] + _blas_lines(results.get("blas")) + ["## rpnumpy against PyTorch, per model", ""]
    for _, label, report in _labelled(results):
        lines += _comparison_section(label, report)
    lines += ["## Peak resident memory of one training epoch", "",
              "Each figure comes from a fresh process that trains one epoch (`bench_memory.py`): `ru_maxrss` "
              "from `resource.getrusage` is the process's peak over its whole life (imports, data, model, "
              "training); the training peak is `VmHWM` after resetting it through `/proc/self/clear_refs` just "
              "before the epoch, and the increment is that peak minus the resident set at the start of the epoch. "
              "The rpnumpy processes never import PyTorch.", "",
              "| model | framework | process peak (ru_maxrss) | RSS before the epoch | training peak | increment |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    for name, per_fw in results["memory"].items():
        for fw, row in per_fw.items():
            def mib(v: float | None) -> str:
                return "n/a" if v is None else f"{v:,.0f} MiB"
            lines.append(f"| {name} | {fw} | {mib(row['process_peak_mib'])} | {mib(row['rss_before_training_mib'])} "
                         f"| {mib(row['training_peak_mib'])} | {mib(row['training_increment_mib'])} |")
    lines += ["", "## Model files: seeds against stored matrices", "",
              "`rpnumpy.io.model_file_size(model)` (fixed matrices rebuilt from their seeds) against "
              "`store_buffers=True` (the matrices written out), float32.", "",
              "| model | trainable values | fixed values | file with seeds | file with matrices |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for name, size in results["file_sizes"].items():
        lines.append(f"| {name} | {size['trainable']:,} | {size['fixed']:,} | {size['seeds_bytes']:,} B "
                     f"| {size['stored_bytes']:,} B |")
    lines += ["", "## SRHT against a dense Gaussian projection", "",
              "Batch of 128 float32 rows projected to k outputs; medians; ratio = SRHT / dense (below 1: the SRHT "
              "is faster). Forward is `x @ G` against `SRHT.apply`, backward `g @ G.T` against "
              "`SRHT.apply_transpose`.", ""]
    for k, block in results["srht"].items():
        lines += [f"k = {k}: crossover (smallest d from which the SRHT stays faster) **forward d = "
                  f"{block['crossover']['forward']}**, backward d = {block['crossover']['backward']}.", "",
                  "| d | dense fwd | SRHT fwd | ratio | dense bwd | SRHT bwd | ratio |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in block["rows"]:
            lines.append(f"| {row['d']} | {_precise(row['dense_forward'])} | {_precise(row['srht_forward'])} "
                         f"| {row['srht_forward'] / row['dense_forward']:.2f} | {_precise(row['dense_backward'])} "
                         f"| {_precise(row['srht_backward'])} | {row['srht_backward'] / row['dense_backward']:.2f} |")
        lines.append("")
    lines += _closed_form_lines(results.get("closed_form"))
    lines += _demo_lines(results.get("demo"))
    if analysis is not None and analysis.exists():
        lines += [analysis.read_text(encoding="utf-8").rstrip(), ""]
    text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole benchmark suite and write RESULTS.md.")
    parser.add_argument("--models", nargs="+", default=list(bench_mlp.MODELS), choices=sorted(bench_mlp.MODELS))
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per model (default 7)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--max-busy", type=float, default=0.05,
                        help="before each model, wait until other processes use less than this share of the CPUs")
    parser.add_argument("--wait", type=float, default=600.0, help="longest wait for a quiet machine (seconds)")
    parser.add_argument("--retries", type=int, default=2, help="re-runs of a model whose timed epochs were noisy")
    parser.add_argument("--quick", action="store_true", help="tiny synthetic run (tests); the numbers mean nothing")
    parser.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=HERE / "results_suite.json")
    parser.add_argument("--analysis", type=Path, default=HERE / "analysis.md",
                        help="hand-written interpretation appended to RESULTS.md if it exists")
    parser.add_argument("--render", type=Path, default=None, metavar="JSON",
                        help="measure nothing: render RESULTS.md again from a results JSON written before")
    parser.add_argument("--closed-form", type=Path, default=None, metavar="JSON",
                        help="results_snnk.json of a full `python -m rpnumpy reproduce snnk` run: its closed-form "
                             "races go into RESULTS.md")
    parser.add_argument("--demo-runs", type=int, default=3, help="runs of `python -m rpnumpy demo` to time (default 3)")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo timing step (same as --demo-runs 0)")
    args = parser.parse_args(argv)
    closed_form = closed_form_results(args.closed_form) if args.closed_form is not None else None
    if args.render is not None:
        results = json.loads(args.render.read_text(encoding="utf-8"))
        if closed_form is not None:
            results["closed_form"] = closed_form
        write_results_md(results, args.out, analysis=args.analysis)
        print(f"wrote {args.out} from {args.render}")
        return 0
    if args.repeats < 1 or args.retries < 0 or args.demo_runs < 0:
        parser.error("--repeats must be >= 1, --retries >= 0 and --demo-runs >= 0")
    srht_dims = (256, 512) if args.quick else bench_srht.DEFAULT_DIMS
    srht_ks = (64,) if args.quick else (64, bench_srht.DEFAULT_K, 1024)
    results = run_suite(args.models, repeats=args.repeats, quick=args.quick, max_busy=args.max_busy,
                        wait=args.wait, retries=args.retries, threads=args.threads, srht_dims=srht_dims,
                        srht_ks=srht_ks)
    results["closed_form"] = closed_form
    demo_runs = 0 if args.no_demo else args.demo_runs
    results["demo"] = time_demo(demo_runs, quick=args.quick) if demo_runs else None
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    text = write_results_md(results, args.out, analysis=args.analysis)
    print("\n".join(summary_table(results)))
    print(f"\nwrote {args.out} and {args.json} ({len(text.splitlines())} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
