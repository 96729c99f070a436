"""Benchmark: training tokens/s of hintrag's `mode=train` against plain training scripts.

    python experiments/bench_train.py train.regime=sft train.min_reward=0
    python experiments/bench_train.py experiment=small_webshop train.regime=bc train.lr=0.001 \
        train.max_length=2048 train.grad_accum=4 model.warm_start=null +bench.examples=96 +bench.baselines=[loop]

All train on the same examples, built from the upstream run of this config exactly as
`mode=train` builds them (`+bench.examples=N`: the first N only). Baselines (`+bench.baselines`,
default both): `trl`, what a user would write from trl's docs (SFTTrainer on the messages with
its defaults: full-sequence loss, the model's own chat template) with the same LoRA and batch
settings; `loop`, the issue's blind probe: a full fine-tune in a bare PyTorch loop (AdamW, one
example per forward, full-sequence loss), the recipe that ran at 184 tokens/s in the issue.
Prints tokens seen, wall time and tokens/s of each and the ratios. Nothing is written to the run
store; the adapters go to a temporary folder.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from hintrag.agents import make_agent  # noqa: E402
from hintrag.llm.models import local_folder  # noqa: E402
from hintrag.stages import store_root  # noqa: E402
from hintrag.stages.train import source_records  # noqa: E402
from hintrag.training import data  # noqa: E402
from hintrag.training.sft import LORA_TARGETS, train_adapter, weights_dtype  # noqa: E402


def plain_trl(cfg: DictConfig, train_file: Path, out: Path) -> dict[str, float]:
    """The baseline: trl's SFTTrainer with its defaults and the same LoRA and batch settings."""
    import torch
    from datasets import load_dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    folder = local_folder(cfg.model, cfg.backend.cache_dir)
    rank = int(cfg.train.lora_rank)
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, weights_dtype(cfg.train))),
        processing_class=AutoTokenizer.from_pretrained(folder),
        train_dataset=load_dataset("json", data_files=str(train_file))["train"].select_columns(["messages"]),
        peft_config=LoraConfig(r=rank, lora_alpha=2 * rank, target_modules=LORA_TARGETS, task_type="CAUSAL_LM"),
        args=SFTConfig(output_dir=str(out), per_device_train_batch_size=int(cfg.train.batch_size),
                       gradient_accumulation_steps=int(cfg.train.grad_accum), max_length=int(cfg.train.max_length),
                       num_train_epochs=float(cfg.train.epochs), bf16=False, report_to=[], save_strategy="no",
                       include_num_input_tokens_seen="all", logging_steps=1),
    )
    started = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - started
    tokens = int(trainer.state.num_input_tokens_seen)
    return {"tokens_seen": tokens, "train_runtime_s": wall, "tokens_per_s": tokens / wall}


def plain_loop(cfg: DictConfig, train_file: Path) -> dict[str, float]:
    """The probe: every weight trained, a bare loop, one example per forward, no padding."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = local_folder(cfg.model, cfg.backend.cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, weights_dtype(cfg.train)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=float(cfg.train.lr))
    rows = [json.loads(line)["messages"] for line in train_file.read_text().splitlines()]
    model.train()
    tokens, started = 0, time.perf_counter()
    for step, messages in enumerate(rows, 1):
        ids = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        ids = torch.tensor([ids[: int(cfg.train.max_length)]])
        model(input_ids=ids, labels=ids).loss.div(int(cfg.train.grad_accum)).backward()
        tokens += ids.numel()
        if step % int(cfg.train.grad_accum) == 0 or step == len(rows):
            optimizer.step()
            optimizer.zero_grad()
    wall = time.perf_counter() - started
    return {"tokens_seen": tokens, "train_runtime_s": wall, "tokens_per_s": tokens / wall}


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    key, records = source_records(cfg, store_root(cfg))
    examples, dropped = data.build(records, make_agent(cfg.agent, cfg.env), data.Keep.from_config(cfg.train, cfg.env))
    bench = cfg.get("bench") or {}
    examples = examples[: bench.get("examples")]
    baselines = list(bench.get("baselines", ["trl", "loop"]))
    print(f"{len(examples)} examples from {key} (dropped {dict(dropped)})")
    with tempfile.TemporaryDirectory() as tmp:
        train_file = Path(tmp) / "train.jsonl"
        data.write_jsonl(train_file, examples)
        results = {"hintrag mode=train": train_adapter(cfg, train_file, None, Path(tmp))}
        if "trl" in baselines:
            results["plain trl SFT"] = plain_trl(cfg, train_file, Path(tmp) / "plain")
        if "loop" in baselines:
            results["probe: full FT loop"] = plain_loop(cfg, train_file)
    for name, r in results.items():
        print(f"{name:20} tokens={r['tokens_seen']}  wall_s={r['train_runtime_s']:.1f}  tokens/s={r['tokens_per_s']:.1f}")
    ours = results.pop("hintrag mode=train")
    for name, r in results.items():
        print(f"tokens/s ratio hintrag / {name}: {ours['tokens_per_s'] / r['tokens_per_s']:.2f}")


if __name__ == "__main__":
    main()
