"""Benchmark: rollout speed of the hf backend with the weights in float32 against bfloat16.

    python experiments/bench_dtype.py env=webshop agent=act split=test n_episodes=8 max_steps=15

Same games, same model, same batch; only `backend.dtype` differs. bfloat16 is fast on a CPU with
native bf16 (AVX512-BF16 or AMX) and emulated, slower, elsewhere; greedy actions may differ, since
the logits do. Prints the CPU's bf16 support, wall time and prefilled tokens of each, the ratio,
and whether the actions agree. Nothing is written to the run store.
"""

from __future__ import annotations

import hydra
from benchlib import compare
from omegaconf import DictConfig

from hintrag.machine import cpu_bf16


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    print(f"CPU bfloat16 (amx or avx512_bf16 native, none emulated): {cpu_bf16()}")
    results = compare(cfg, "backend.dtype", ["float32", "bfloat16"], lambda dtype, r: print(
        f"dtype={dtype:<8} episodes={r['episodes']} steps={r['steps']} prefill_tokens={r['prefill_tokens']} "
        f"wall_s={r['wall_s']:.1f} episodes/s={r['episodes_per_s']:.3f}"))
    f32, bf16 = results["float32"], results["bfloat16"]
    print(f"episodes/s bfloat16 / float32: {bf16['episodes_per_s'] / f32['episodes_per_s']:.2f}x")
    print(f"identical actions in every episode: {f32['actions'] == bf16['actions']}")


if __name__ == "__main__":
    main()
