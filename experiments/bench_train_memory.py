"""Benchmark: resident memory of `mode=train` step by step, at the kernel caches' capacity in effect.

    ONEDNN_PRIMITIVE_CACHE_CAPACITY=1024 LRU_CACHE_CAPACITY=1024 python experiments/bench_train_memory.py \
        experiment=small_alfworld train.regime=bc train.lr=0.001 train.batch_size=1 train.grad_accum=4 \
        train.max_length=1024 model.warm_start=null +bench.examples=40
    python experiments/bench_train_memory.py ...   # the same, at hintrag's capacity (hintrag.machine.KERNEL_CACHES)

Trains on the first N examples built from this config's upstream run (as `mode=train` builds them)
and prints the resident memory after loading and after every optimizer step, the peak, the growth
per step over the second half of the steps (what a long run adds on top), and tokens/s. The
capacities are read once per process, so each setting is its own run. Nothing is written to the
run store.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402
from transformers import TrainerCallback  # noqa: E402

from hintrag.agents import make_agent  # noqa: E402
from hintrag.machine import KERNEL_CACHES, resident_gib  # noqa: E402
from hintrag.stages import store_root  # noqa: E402
from hintrag.stages.train import source_records  # noqa: E402
from hintrag.training import data  # noqa: E402
from hintrag.training.sft import train_adapter  # noqa: E402


class ResidentAfterStep(TrainerCallback):
    """Resident memory after each optimizer step."""

    def __init__(self) -> None:
        self.after: list[float] = []

    def on_step_end(self, args, state, control, **kwargs) -> None:  # noqa: ANN001 (transformers' signature)
        self.after.append(resident_gib())


def growth_per_step(after: list[float]) -> float:
    """Mean rise of the after-step memory over the second half of the run (GiB a step)."""
    half = after[len(after) // 2:]
    return (half[-1] - half[0]) / (len(half) - 1) if len(half) > 1 else 0.0


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    key, records = source_records(cfg, store_root(cfg))
    examples, _ = data.build(records, make_agent(cfg.agent, cfg.env), data.Keep.from_config(cfg.train, cfg.env))
    examples = examples[: (cfg.get("bench") or {}).get("examples")]
    probe = ResidentAfterStep()
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.jsonl"
        data.write_jsonl(train_file, examples)
        loaded = resident_gib()
        metrics = train_adapter(cfg, train_file, None, Path(tmp), callbacks=[probe])
    print(json.dumps({
        "examples": len(examples), "source": key, "capacities": {k: os.environ.get(k) for k in KERNEL_CACHES},
        "threads": os.environ.get("OMP_NUM_THREADS"), "before_training_gib": round(loaded, 2),
        "after_step_gib": [round(x, 2) for x in probe.after], "peak_gib": metrics["process_peak_rss_gib"],
        "growth_gib_per_step": round(growth_per_step(probe.after), 4), "tokens_per_s": metrics["tokens_per_s"],
    }))


if __name__ == "__main__":
    main()
