#!/usr/bin/env python3
"""numpy float32 matmul throughput, the reference for `nanoforge bench core`.

For each n, C = A @ B with A, B of shape [n, n] (float32, seeded), into a preallocated C.
A few warm-up calls, then enough timed calls for about --seconds per size (at least
--min-reps); the figure is the median call time t, reported as GFLOP/s = 2 n^3 / t / 1e9.

Prints one JSON object on stdout:
  {"sgemm": [{"n": 256, "gflops": ..., "ms": ..., "reps": ...}, ...],
   "numpy": "2.x", "blas": {...}, "threads": ..., "env": {...}}

The script measures under whatever environment it is given: the caller decides
OPENBLAS_NUM_THREADS, OPENBLAS_CORETYPE and so on (they are echoed in "env").
"""

import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

ENV_KEYS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
            "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_VERBOSE")


def loaded_blas_libraries():
    """Paths of the BLAS shared libraries mapped into this process (Linux)."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                name = os.path.basename(path).lower()
                if ("blas" in name or "mkl" in name) and path not in paths:
                    paths.append(path)
    except OSError:
        pass
    return paths


def openblas_runtime(path):
    """Asks a loaded OpenBLAS for its version, kernel and threads, as threadpoolctl does."""
    try:
        lib = ctypes.CDLL(path, mode=getattr(os, "RTLD_NOLOAD", 0) | ctypes.RTLD_GLOBAL)
    except OSError:
        return None
    info = {"library": path}
    # numpy's wheels bundle scipy-openblas, whose symbols carry a prefix and suffix.
    for prefix, suffix in (("", ""), ("scipy_", ""), ("scipy_", "64_"), ("", "64_")):
        config = getattr(lib, f"{prefix}openblas_get_config{suffix}", None)
        if config is None:
            continue
        config.restype = ctypes.c_char_p
        info["config"] = config().decode(errors="replace").strip()
        core = getattr(lib, f"{prefix}openblas_get_corename{suffix}", None)
        if core is not None:
            core.restype = ctypes.c_char_p
            info["kernel"] = core().decode(errors="replace")
        threads = getattr(lib, f"{prefix}openblas_get_num_threads{suffix}", None)
        if threads is not None:
            threads.restype = ctypes.c_int
            info["threads"] = threads()
        return info
    return None


def blas_info():
    """Runtime BLAS details: threadpoolctl when installed, else a direct probe, else build info."""
    try:
        from threadpoolctl import threadpool_info
        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            p = pools[0]
            return {"source": "threadpoolctl", "library": p.get("filepath"),
                    "implementation": p.get("internal_api"), "version": p.get("version"),
                    "kernel": p.get("architecture"), "threads": p.get("num_threads")}
    except Exception:
        pass
    for path in loaded_blas_libraries():
        info = openblas_runtime(path)
        if info:
            info["source"] = "openblas_get_config"
            info["implementation"] = "openblas"
            return info
    info = {"source": "numpy.show_config"}
    try:
        build = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        info.update({k: build.get(k) for k in ("name", "version", "openblas configuration") if k in build})
    except Exception as error:  # older numpy: show_config has no dict mode
        info["error"] = str(error)
    return info


def measure(n, seconds, min_reps, warmup, rng):
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    for _ in range(warmup):
        np.matmul(a, b, out=c)
    start = time.perf_counter()
    np.matmul(a, b, out=c)
    estimate = max(time.perf_counter() - start, 1e-6)
    reps = max(min_reps, int(seconds / estimate))
    reps = min(reps, 10_000)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - start)
    t = statistics.median(times)
    return {"n": n, "gflops": round(2 * n ** 3 / t / 1e9, 2), "ms": round(t * 1e3, 4),
            "ms_min": round(min(times) * 1e3, 4), "reps": reps}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024, 2048])
    parser.add_argument("--seconds", type=float, default=0.5, help="timed seconds per size (default 0.5)")
    parser.add_argument("--min-reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    results = [measure(n, args.seconds, args.min_reps, args.warmup, rng) for n in args.sizes]
    blas = blas_info()
    report = {
        "sgemm": results,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "blas": blas,
        "threads": blas.get("threads"),
        "env": {k: os.environ[k] for k in ENV_KEYS if k in os.environ},
    }
    json.dump(report, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
