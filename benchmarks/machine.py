"""What the benchmarks ran on, printed with every table: the CPU, its cores and vector units, and the BLAS
kernel in use. And OpenBLAS's own choice of kernel: some machines set OPENBLAS_CORETYPE (and
OPENBLAS_L2_SIZE) in their environment because older OpenBLAS builds crash on them; PyTorch's oneDNN ignores
both, so a benchmark against PyTorch runs without them unless asked (`--openblas-env`), and says which."""

from __future__ import annotations

import os
import sys

OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile",
                "asimd", "sve")


def native_openblas(argv: list[str]) -> list[str]:
    """Re-run this process without the OpenBLAS variables (before NumPy loads OpenBLAS), unless argv asks
    to keep them with --openblas-env; returns argv without that flag."""
    if "--openblas-env" in argv:
        return [a for a in argv if a != "--openblas-env"]
    found = {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ}
    if found and "numpy" not in sys.modules:
        env = {k: v for k, v in os.environ.items() if k not in OPENBLAS_VARS}
        env["CNNDSL_BENCH_UNSET"] = " ".join(f"{k}={v}" for k, v in found.items())
        os.execve(sys.executable, [sys.executable, *argv], env)
    return argv


def describe() -> dict:
    cpu, flags, ident = "unknown", set(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("model name", "Model")) and cpu == "unknown":
                    cpu = line.split(":", 1)[1].strip()
                elif line.startswith(("flags", "Features")) and not flags:
                    flags = set(line.split(":", 1)[1].split())
                elif (key := line.split(":")[0].strip()) in ("cpu family", "model") and key not in ident:
                    # a VM may name the CPU only "AMD EPYC": the family and model tell Zen 3 (25, 1) from
                    # Zen 4 (25, 17) and Zen 5 (26, …)
                    ident[key] = line.split(":", 1)[1].strip()
    except OSError:
        import platform
        cpu = platform.processor() or cpu
    blas = []
    try:
        from threadpoolctl import threadpool_info
        import numpy  # noqa: F401 — loads the BLAS threadpoolctl reports
        blas = [{k: i.get(k) for k in ("internal_api", "version", "architecture", "num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except ImportError:
        pass
    if ident:
        cpu += f" (family {ident.get('cpu family', '?')}, model {ident.get('model', '?')})"
    return {"cpu": cpu, "cores": os.cpu_count(), "vector": [f for f in VECTOR_FLAGS if f in flags], "blas": blas,
            "openblas_env": {k: os.environ[k] for k in OPENBLAS_VARS if k in os.environ},
            "openblas_env_unset": os.environ.get("CNNDSL_BENCH_UNSET", "")}


def banner(info: dict | None = None) -> str:
    info = info or describe()
    blas = ", ".join(f"{b['internal_api']} {b['version']} ({b['architecture']} kernel)" for b in info["blas"]) or "?"
    env = (f"; OpenBLAS told {info['openblas_env']}" if info["openblas_env"] else
           f"; {info['openblas_env_unset']} unset for this run" if info["openblas_env_unset"] else "")
    return f"{info['cpu']}, {info['cores']} cores, {' '.join(info['vector']) or 'no vector flags read'}; BLAS: {blas}{env}"
