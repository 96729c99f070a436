"""The machine a run ran on: CPU, its bfloat16 support, accelerators, library versions and the
code's commit, appended to the run folder by every process that writes into it.

None of it is in the run key, which says what was asked for. But it decides numbers all the
same: bfloat16 greedy decoding on CPUs differs between CPU families (the same `quick_webshop`
key gave Base a score of 6.65 on an AMD EPYC with AVX512-BF16 and 12.62 on an Intel CPU with
AMX), so a run says where it was made, and one written from two kinds of machine (shards on a
mixed cluster, a resume elsewhere) is flagged when it is opened again.
"""

from __future__ import annotations

import logging
import os
import platform
import resource
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)

PROVENANCE = "provenance.jsonl"
PACKAGES = ("torch", "transformers", "trl", "peft", "vllm")  # the ones whose version moves results
_CPUINFO = Path("/proc/cpuinfo")
_NVIDIA = Path("/proc/driver/nvidia/gpus")


@dataclass(frozen=True)
class Machine:
    """Where a process ran; `kind` is what results depend on (not the host or the time)."""
    cpu: str
    bf16: str                   # amx | avx512_bf16 | none: how the CPU computes bfloat16
    accelerators: tuple[str, ...]
    host: str = ""
    python: str = ""
    packages: dict[str, str | None] = field(default_factory=dict)
    commit: str | None = None

    @property
    def kind(self) -> str:
        gpus = ", ".join(sorted(set(self.accelerators))) or "no GPU"  # the models, not how many
        return f"{self.cpu} (bf16: {self.bf16}); {gpus}"


def _cpuinfo_field(name: str) -> str:
    try:
        for line in _CPUINFO.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == name:
                return value.strip()
    except OSError:
        pass
    return ""


def cpu_bf16() -> str:
    """How this CPU computes bfloat16: `amx` or `avx512_bf16` natively, `none` where it is emulated."""
    flags = set(_cpuinfo_field("flags").split())
    return "amx" if "amx_bf16" in flags else "avx512_bf16" if "avx512_bf16" in flags else "none"


def native_bf16() -> bool:
    """Whether bfloat16 is native here (AVX512-BF16 or AMX), where bf16 training ran 1.35-1.46x faster
    than float32; elsewhere it is emulated and slower."""
    return cpu_bf16() != "none"


def bf16_if_native(device: str = "auto") -> str:
    """The dtype for weights that run on `device` (a backend.device value): `bfloat16` where the
    hardware computes it natively (a GPU, or a CPU with AVX512-BF16 or AMX), `float32` where it
    would be emulated (2.46x slower than float32 on an AVX2-only AMD EPYC, experiments/bench_dtype.py).
    Registered as the config resolver `${bf16_if_native:${backend.device}}`; run keys hash what it
    resolves to, so a key names the dtype that actually ran."""
    device = str(device)
    on_gpu = device.startswith("cuda") or (device == "auto" and bool(accelerators()))
    return "bfloat16" if on_gpu or native_bf16() else "float32"


def register_resolvers() -> None:
    """Make `${bf16_if_native:...}` available to every config (idempotent)."""
    from omegaconf import OmegaConf

    if not OmegaConf.has_resolver("bf16_if_native"):
        OmegaConf.register_new_resolver("bf16_if_native", bf16_if_native)


# oneDNN's primitive cache and ideep's operator cache, both keyed by tensor shape. A decision example
# has its own length, so every training step met new shapes, and at the default capacity (1,024
# each) the caches held 0.07-0.09 GiB more after each optimizer step: the ALFWorld warm start ended at
# 7.7 GB where its live tensors need under 3 GB. At 8 the memory stays flat, for 4% of the speed
# (docs/results/small_alfworld.md, memory).
KERNEL_CACHES = {"ONEDNN_PRIMITIVE_CACHE_CAPACITY": "8", "LRU_CACHE_CAPACITY": "8"}


def bound_kernel_caches() -> None:
    """Cap the CPU kernel caches (`KERNEL_CACHES`) unless the user set them. Both libraries read the
    variable when they first build a kernel, so this runs when hintrag is imported, before any."""
    for name, capacity in KERNEL_CACHES.items():
        os.environ.setdefault(name, capacity)


def resident_gib() -> float:
    """This process's resident memory now, in GiB (Linux's /proc)."""
    line = next(ln for ln in Path("/proc/self/status").read_text().splitlines() if ln.startswith("VmRSS:"))
    return int(line.split()[1]) / 2**20


def peak_rss_gib() -> float:
    """This process's peak resident memory so far, in GiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**30 if sys.platform == "darwin" else 2**20), 2)


def emulated_bf16(dtype: str, device: str) -> bool:
    """Whether `dtype` on `device` would run bfloat16 through emulation: bfloat16 where the rule above
    picks float32."""
    return str(dtype) == "bfloat16" and bf16_if_native(device) == "float32"


def accelerators() -> tuple[str, ...]:
    """NVIDIA GPU names, from the driver's files: the same whether or not this process has loaded
    torch, and whatever CUDA_VISIBLE_DEVICES hides (a report and a rollout on one node agree).
    Other accelerators are not named."""
    names = []
    for info in sorted(_NVIDIA.glob("*/information")) if _NVIDIA.is_dir() else []:
        model = next((ln.partition(":")[2].strip() for ln in info.read_text().splitlines() if ln.startswith("Model")), "")
        names.append(model or info.parent.name)
    return tuple(names)


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@lru_cache(maxsize=1)
def _commit() -> str | None:
    """The hintrag checkout's commit, with `+dirty` when it has uncommitted changes; None outside git."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
        return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def current() -> Machine:
    cpu = _cpuinfo_field("model name") or platform.processor() or platform.machine()
    return Machine(cpu=cpu, bf16=cpu_bf16(), accelerators=accelerators(), host=socket.gethostname(),
                   python=platform.python_version(), packages={p: _version(p) for p in PACKAGES}, commit=_commit())


def provenance(stage: str) -> dict[str, Any]:
    """The line a process appends to a run folder it opens (`PROVENANCE`, never rewritten)."""
    here = current()
    return {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "pid": os.getpid(), "stage": stage,
            **asdict(here), "kind": here.kind}


def kinds(lines: Iterable[dict[str, Any]]) -> list[str]:
    """The distinct machine kinds among provenance lines, in the order they first wrote."""
    return list(dict.fromkeys(line["kind"] for line in lines if "kind" in line))


def mixed_warning(folder: Path, found: list[str]) -> str:
    return (f"{folder} was written on {len(found)} kinds of machine ({' | '.join(found)}): bfloat16 results differ "
            f"between CPU families and GPUs, so its episodes may not be comparable; see {folder / PROVENANCE}")
