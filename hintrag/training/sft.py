"""LoRA / QLoRA supervised fine-tuning with trl's SFTTrainer, loss on the assistant turns of each
chat (train.loss_on=assistant) or on every token of it rendered to text (all, the authors' ALFWorld).

QLoRA (4-bit NF4 backbone, 8-bit AdamW) needs a GPU; on CPU the same recipe runs as plain LoRA,
with the weights in bfloat16 where the CPU has native bf16 and in float32 elsewhere (train.dtype). Checkpoints go to the run folder, and a rerun resumes from the last one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from omegaconf import DictConfig

from hintrag.llm.models import local_folder, nf4_config
from hintrag.machine import bf16_if_native, native_bf16, peak_rss_gib
from hintrag.training.template import chat_text, training_template

log = logging.getLogger(__name__)

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def quantization(train: DictConfig) -> str:
    """`4bit` or `none` (the value was checked by validate_common), logged with what runs where."""
    import torch

    gpu = torch.cuda.is_available()
    wanted = str(train.quantization)
    chosen = "4bit" if wanted == "4bit" or (wanted == "auto" and gpu) else "none"
    log.info("training with %s", "QLoRA: 4-bit NF4 backbone, 8-bit AdamW (GPU)" if chosen == "4bit"
             else f"plain LoRA ({'GPU' if gpu else 'CPU: no GPU, so no 4-bit QLoRA'})")
    return chosen


def weights_dtype(train: DictConfig) -> str:
    """train.dtype resolved: auto is bfloat16 on a GPU or a CPU with native bf16, else float32 (logged)."""
    import torch

    wanted = str(train.dtype)
    if wanted not in ("auto", "float32", "bfloat16"):
        raise ValueError(f"train.dtype={wanted!r}")
    gpu = torch.cuda.is_available()
    chosen = wanted if wanted != "auto" else bf16_if_native("cuda" if gpu else "cpu")
    log.info("training weights in %s (%s)", chosen, "GPU" if gpu else
             "CPU with native bf16" if native_bf16() else "CPU without native bf16")
    return chosen


def _load_model(cfg: DictConfig, quant: str, dtype: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    folder = local_folder(cfg.model, cfg.backend.cache_dir)
    if quant == "4bit":
        from peft import prepare_model_for_kbit_training

        model = AutoModelForCausalLM.from_pretrained(folder, quantization_config=nf4_config(), dtype=torch.bfloat16,
                                                     device_map={"": 0})
        return prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    return AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype))


def sft_config(cfg: DictConfig, output_dir: Path, quant: str, has_eval: bool) -> Any:
    import torch
    from trl import SFTConfig

    train = cfg.train
    gpu = torch.cuda.is_available()
    return SFTConfig(
        output_dir=str(output_dir), num_train_epochs=float(train.epochs),
        per_device_train_batch_size=int(train.batch_size), per_device_eval_batch_size=int(train.batch_size),
        gradient_accumulation_steps=int(train.grad_accum), learning_rate=float(train.lr),
        warmup_steps=float(train.warmup_ratio), lr_scheduler_type=str(train.scheduler),
        weight_decay=float(train.weight_decay), label_smoothing_factor=float(train.label_smoothing),
        max_length=int(train.max_length), seed=int(train.seed), data_seed=int(train.seed),
        assistant_only_loss=train.loss_on == "assistant", completion_only_loss=False, dataset_text_field="text",
        packing=False,
        optim="paged_adamw_8bit" if quant == "4bit" else "adamw_torch",
        bf16=gpu, gradient_checkpointing=quant == "4bit" or bool(train.gradient_checkpointing),
        gradient_checkpointing_kwargs={"use_reentrant": False},
        save_strategy="steps", save_steps=int(train.save_steps), save_total_limit=int(train.keep_checkpoints),
        eval_strategy="epoch" if has_eval else "no", logging_steps=1, report_to=list(train.report_to),
        include_num_input_tokens_seen="non_padding", dataloader_num_workers=0, disable_tqdm=False,
        train_sampling_strategy=str(train.sampling),
    )


def warmup_steps(requested: int, total: int) -> int:
    """HF's linear warmup trains its first step at lr 0, so a run no longer than its warmup (one
    optimizer step with any warmup) never moves the LoRA weights off their zero start. Cut the
    warmup to leave at least one step at a nonzero rate; longer runs keep HF's value."""
    return max(min(requested, total - 1), 0)


def token_metrics(logits: Any, targets: Any) -> tuple[Any, Any, Any]:
    """Entropy sum, top-1 hits and count over the positions whose target is not -100 (`logits` at a
    position predict the `targets` entry at the same position)."""
    import torch

    keep = targets != -100
    picked = logits[keep].float()
    logp = torch.log_softmax(picked, dim=-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return entropy.sum(), (picked.argmax(-1) == targets[keep]).sum(), keep.sum()


def loss_positions(labels: Any) -> Any:
    """The positions whose logits the loss reads: those predicting a label that is not -100, in any
    row of the batch. With the loss on the answer only, that is a few percent of a decision example."""
    import torch

    return torch.nonzero((labels[:, 1:] != -100).any(dim=0)).squeeze(1)


def _trainer_class() -> type:
    """SFTTrainer whose scheduler uses `warmup_steps` and whose label-smoothed loss takes one forward
    pass (trl is imported lazily, as everywhere here)."""
    from trl import SFTTrainer

    class Trainer(SFTTrainer):
        def compute_loss(self, model: Any, inputs: dict, return_outputs: bool = False,
                         num_items_in_batch: Any = None) -> Any:
            """With label smoothing, trl 1.16 runs the model a second time, without gradients, only to
            log entropy and token accuracy: a third more compute per step, and its dropout draws move
            the RNG. Here both metrics come from the loss's own logits, and the vocabulary projection
            runs only at the positions the loss reads (`loss_positions`): the full logits of a batch
            of 4 decision examples are ~0.4 GB per copy, of which the answers use a few percent.
            The loss is the label smoother's on those positions, the same sum. Other losses are trl's."""
            if self.label_smoother is None or self.compute_loss_func is not None or self.aux_loss_enabled \
                    or return_outputs or self.args.loss_type != "nll":
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            import torch

            mode = "train" if model.training else "eval"
            positions = loss_positions(inputs["labels"])
            targets = inputs["labels"][:, positions + 1]
            outputs = model(**{k: v for k, v in inputs.items() if k != "labels"}, use_cache=False,
                            logits_to_keep=positions)
            loss = self.label_smoother({"logits": outputs.logits}, targets, num_items_in_batch=num_items_in_batch)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * (self.accelerator.num_processes // self.get_tp_size())
            with torch.no_grad():
                entropy, hits, count = (self.accelerator.gather_for_metrics(t).sum()
                                        for t in token_metrics(outputs.logits.detach(), targets))
            self._metrics[mode]["entropy"].append((entropy / count).item() if count > 0 else 0.0)
            self._metrics[mode]["mean_token_accuracy"].append((hits / count).item() if count > 0 else 0.0)
            if mode == "train":
                seen = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
                self._total_train_tokens += seen // self._tp_size
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
            return loss

        def create_scheduler(self, num_training_steps: int, optimizer: Any = None) -> Any:
            asked = self.args.get_warmup_steps(num_training_steps)
            kept = warmup_steps(asked, num_training_steps)
            if kept != asked:
                log.warning("warmup cut from %d to %d steps: the run has only %d optimizer step(s), and a "
                            "warmup step trains at lr 0", asked, kept, num_training_steps)
            self.args.warmup_steps = kept
            return super().create_scheduler(num_training_steps, optimizer)

    return Trainer


class PadCount:
    """The trainer's collator, counting the padded positions of every batch it makes: the share of
    the compute spent on padding (train.sampling=group_by_length keeps it low)."""

    def __init__(self, collate: Any) -> None:
        self.collate, self.padded, self.total = collate, 0, 0

    def __call__(self, features: list) -> Any:
        batch = self.collate(features)
        mask = batch.get("attention_mask")
        if mask is not None:
            self.total += int(mask.numel())
            self.padded += int(mask.numel() - mask.sum())
        return batch

    @property
    def fraction(self) -> float | None:
        return round(self.padded / self.total, 4) if self.total else None


def _complete(folder: Path, step: int) -> bool:
    """The Trainer writes trainer_state.json last, so a readable one with the folder's step means
    the weights, optimizer and scheduler before it were written to the end."""
    try:
        state = json.loads((folder / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return state.get("global_step") == step and all((folder / f).is_file() for f in ("optimizer.pt", "scheduler.pt"))


def last_checkpoint(output_dir: Path) -> str | None:
    """The newest complete checkpoint. A newer one cut short by a kill while saving is removed with a
    warning (transformers' get_last_checkpoint would pick it and the resume would crash)."""
    if not output_dir.is_dir():
        return None
    found = sorted((int(m.group(1)), p) for p in output_dir.iterdir()
                   if p.is_dir() and (m := re.fullmatch(r"checkpoint-(\d+)", p.name)))
    for step, folder in reversed(found):
        if _complete(folder, step):
            return str(folder)
        log.warning("removing %s: written only in part (the run was killed while saving it)", folder)
        shutil.rmtree(folder)
    return None


def training_data(cfg: DictConfig, tokenizer: Any, files: dict[str, str]) -> Any:
    """The dataset files as trl takes them. train.loss_on=assistant: the chats, under a template
    that marks the assistant turns, the only tokens with a loss. all: each chat rendered to one
    "text" by the model's own template, trl's language-modeling form, which has a loss on every token."""
    from datasets import load_dataset

    data = load_dataset("json", data_files=files)
    if cfg.train.loss_on == "all":
        return data.map(lambda example: {"text": chat_text(tokenizer, example["messages"])},
                        remove_columns=["messages"])
    override = Path(cfg.train.chat_template).read_text() if cfg.train.chat_template else None
    tokenizer.chat_template = training_template(tokenizer, data["train"]["messages"], override)
    return data


def make_trainer(cfg: DictConfig, train_file: Path, eval_file: Path | None, output_dir: Path) -> tuple[Any, str, str]:
    """trl's SFTTrainer on the dataset files with the LoRA recipe, checkpointing to `output_dir`;
    with the quantization and the weights' dtype it chose."""
    from peft import LoraConfig
    from transformers import AutoTokenizer

    quant = quantization(cfg.train)
    files = {"train": str(train_file), **({"eval": str(eval_file)} if eval_file else {})}
    tokenizer = AutoTokenizer.from_pretrained(local_folder(cfg.model, cfg.backend.cache_dir))
    data = training_data(cfg, tokenizer, files)
    rank = int(cfg.train.lora_rank)
    lora = LoraConfig(r=rank, lora_alpha=int(cfg.train.lora_alpha or 2 * rank), lora_dropout=float(cfg.train.lora_dropout),
                      target_modules=LORA_TARGETS, bias="none", task_type="CAUSAL_LM")
    dtype = weights_dtype(cfg.train)
    trainer = _trainer_class()(
        model=_load_model(cfg, quant, dtype), args=sft_config(cfg, output_dir, quant, eval_file is not None),
        train_dataset=data["train"], eval_dataset=data.get("eval"), processing_class=tokenizer, peft_config=lora,
    )
    return trainer, quant, dtype


def train_adapter(cfg: DictConfig, train_file: Path, eval_file: Path | None, run_dir: Path,
                  callbacks: Sequence[Any] = ()) -> dict[str, Any]:
    """Fine-tune LoRA adapters on the dataset; write `adapter/` atomically; return training metrics.
    `callbacks` (transformers TrainerCallbacks) watch the run (the memory benchmark's probe)."""
    checkpoints = run_dir / "checkpoints"
    trainer, quant, dtype = make_trainer(cfg, train_file, eval_file, checkpoints)
    for callback in callbacks:
        trainer.add_callback(callback)
    pads = trainer.data_collator = PadCount(trainer.data_collator)
    resume = last_checkpoint(checkpoints)
    if resume:
        log.info("resuming from %s", resume)
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    wall = time.perf_counter() - started
    for stale in run_dir.glob(".adapter.*"):  # left by a run killed while saving its adapter
        shutil.rmtree(stale)
    tmp = Path(tempfile.mkdtemp(dir=run_dir, prefix=".adapter."))
    trainer.save_model(str(tmp))
    shutil.rmtree(run_dir / "adapter", ignore_errors=True)
    os.replace(tmp, run_dir / "adapter")
    tokens = int(trainer.state.num_input_tokens_seen or 0)
    history = [h for h in trainer.state.log_history if "loss" in h]
    return {
        "quantization": quant, "dtype": dtype, "resumed_from": resume, "train_runtime_s": round(wall, 2),
        "train_loss": result.training_loss, "first_loss": history[0]["loss"] if history else None,
        "last_loss": history[-1]["loss"] if history else None, "steps": trainer.state.global_step,
        "warmup_steps": int(trainer.args.warmup_steps),
        "tokens_seen": tokens, "tokens_per_s": round(tokens / wall, 1) if wall else None,
        "padded_fraction": pads.fraction,
        "eval_loss": next((h["eval_loss"] for h in reversed(trainer.state.log_history) if "eval_loss" in h), None),
        "process_peak_rss_gib": peak_rss_gib(),
    }

