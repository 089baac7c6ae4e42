"""The machine a benchmark runs on: its CPU, numpy's BLAS and its thread count, and how busy the other processes are.

Everything needed to interpret a time: :func:`machine_info` (CPU model and SIMD flags, cores, library
versions, BLAS kernel and threads, date), :func:`configure_threads` (the same thread count for numpy's
BLAS and PyTorch), and the load measurements that let a benchmark warn when other processes disturbed it.
"""

from __future__ import annotations

import ctypes
import datetime
import os
import platform
import sys
import time
from typing import Any

import numpy as np

import rpnumpy

try:
    import torch
except ImportError:
    torch = None

__all__ = ["blas_info", "configure_threads", "machine_info"]

_THREAD_ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "GOTO_NUM_THREADS",
)




def _loaded_libraries() -> list[str]:
    """Paths of the shared libraries mapped into this process (Linux; empty elsewhere)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            paths = {line.split()[-1] for line in fh if "/" in line and ".so" in line}
    except OSError:
        return []
    return sorted(paths)


def _openblas_call(lib: ctypes.CDLL, name: str, restype: Any, *args: Any) -> Any:
    """Call ``openblas_<name>`` under whichever symbol prefix/suffix this build exports."""
    for prefix in ("", "scipy_"):
        for suffix in ("", "64_", "_64_", "64"):
            fn = getattr(lib, f"{prefix}openblas_{name}{suffix}", None)
            if fn is not None:
                fn.restype = restype
                return fn(*args)
    raise AttributeError(f"openblas_{name}")


def _numpy_openblas() -> tuple[str, ctypes.CDLL] | None:
    """The OpenBLAS library numpy loaded, as ``(path, handle)``, or None."""
    libs = [p for p in _loaded_libraries() if "openblas" in os.path.basename(p).lower()]
    # prefer the copy shipped with numpy (torch may load a BLAS of its own)
    libs.sort(key=lambda p: "numpy" not in p)
    for path in libs:
        try:
            return path, ctypes.CDLL(path)
        except OSError:
            continue
    return None


def blas_info() -> dict[str, Any]:
    """Which BLAS numpy uses: library, version, thread count and CPU kernel.

    Uses ``threadpoolctl`` when it is installed; otherwise numpy's build
    configuration (``numpy.show_config(mode="dicts")``) plus, for OpenBLAS,
    its own ``openblas_get_num_threads``/``openblas_get_corename`` through
    ctypes. Fields that cannot be found are None.
    """
    info: dict[str, Any] = {
        "library": None,
        "version": None,
        "threads": None,
        "architecture": None,
        "filepath": None,
        "source": None,
    }
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        pools = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        pools.sort(key=lambda p: "numpy" not in str(p.get("filepath", "")))
        if pools:
            p = pools[0]
            info.update(
                library=p.get("internal_api"),
                version=p.get("version"),
                threads=p.get("num_threads"),
                architecture=p.get("architecture"),
                filepath=p.get("filepath"),
                source=f"threadpoolctl {threadpoolctl.__version__}",
            )
            return info
    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        info.update(library=blas.get("name"), version=blas.get("version"), source="numpy.show_config")
    except Exception:  # very old numpy: no mode="dicts"
        pass
    found = _numpy_openblas()
    if found is not None:
        path, lib = found
        info["filepath"] = path
        try:
            info["threads"] = int(_openblas_call(lib, "get_num_threads", ctypes.c_int))
            info["architecture"] = _openblas_call(lib, "get_corename", ctypes.c_char_p).decode()
            info["config"] = _openblas_call(lib, "get_config", ctypes.c_char_p).decode().strip()
            info["source"] = f"{info['source'] or 'build config'} + openblas ctypes"
        except (AttributeError, OSError):
            pass
    return info


def _set_blas_threads(n: int) -> bool:
    """Limit numpy's BLAS to ``n`` threads; return whether it worked."""
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    if threadpoolctl is not None:
        # kept alive for the whole process on purpose (the limit lasts until exit)
        _set_blas_threads.limiter = threadpoolctl.threadpool_limits(limits=n, user_api="blas")
        return True
    found = _numpy_openblas()
    if found is None:
        return False
    try:
        _openblas_call(found[1], "set_num_threads", None, ctypes.c_int(n))
    except AttributeError:
        return False
    return True


def configure_threads(threads: int | None = None) -> int:
    """Give numpy's BLAS and PyTorch the same number of threads and return it.

    With ``threads=None`` numpy's BLAS is left alone and PyTorch gets as many
    threads as it uses (``os.cpu_count()`` if that cannot be found out).
    """
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if not _set_blas_threads(threads):
            print(
                f"warning: could not set numpy's BLAS thread count to {threads} (no threadpoolctl, no "
                f"OpenBLAS found); set OPENBLAS_NUM_THREADS={threads} before starting Python",
                file=sys.stderr,
            )
    else:
        threads = blas_info()["threads"] or os.cpu_count() or 1
    if torch is not None:
        torch.set_num_threads(threads)
    return threads


def _cpuinfo() -> dict[str, Any]:
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if not line.strip():
                    break  # first processor block only
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    return {
        "cpu_model": fields.get("model name") or platform.processor() or platform.machine(),
        "cpu_vendor": fields.get("vendor_id"),
        "cpu_family_model_stepping": (
            f"{fields['cpu family']}/{fields['model']}/{fields['stepping']}"
            if {"cpu family", "model", "stepping"} <= fields.keys()
            else None
        ),
        "cpu_simd": [f for f in ("avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if f in flags],
    }


def machine_info(*, with_torch: bool = True) -> dict[str, Any]:
    """Everything needed to interpret the times: CPU, cores, library versions, BLAS, threads, date.

    ``with_torch=False`` leaves PyTorch out (``info["torch"]`` is None), as when it is not installed.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = None
    info: dict[str, Any] = {
        "date_utc": now.isoformat(timespec="seconds"),
        **_cpuinfo(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "rpnumpy": getattr(rpnumpy, "__version__", None),
        "numpy_blas": blas_info(),
        "env": {k: os.environ[k] for k in _THREAD_ENV_VARS if k in os.environ},
    }
    if torch is None or not with_torch:
        info["torch"] = None
    else:
        show = torch.__config__.show()
        words = show.replace(",", " ").split()
        blas = next((w.split("=", 1)[1] for w in words if w.startswith("BLAS_INFO=")), None)
        info["torch"] = {
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "blas": blas,
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        }
    return info



def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def _cpu_clock() -> tuple[float, float, float] | None:
    """(wall, CPU seconds used by the whole machine, CPU seconds used by this process); None off Linux.

    Both CPU counters advance in clock ticks (``SC_CLK_TCK``, usually 10 ms).
    """
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            ticks = [int(v) for v in fh.readline().split()[1:9]]
        hz = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    busy = sum(ticks) - ticks[3] - ticks[4]  # everything but idle and iowait
    me = os.times()
    return time.perf_counter(), busy / hz, me.user + me.system


def _others_share(before: tuple[float, float, float] | None) -> float | None:
    """Fraction of the machine's CPU capacity used by *other* processes since ``before``.

    Close to 0 on a quiet machine; a timed run with a large share was slowed
    by competition for the cores and should be distrusted.
    """
    after = _cpu_clock()
    if before is None or after is None:
        return None
    wall, busy, mine = (a - b for a, b in zip(after, before))
    capacity = wall * (os.cpu_count() or 1)
    tolerance = 3.0 / os.sysconf("SC_CLK_TCK")  # tick granularity of the two counters
    return max(0.0, busy - mine - tolerance) / capacity if capacity > 0 else None


