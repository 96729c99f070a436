"""Stage B: hints from the failed episodes of a Stage A run, deduplicated into a bank.

The Stage A run is found by its key: the same config with `split` set to `hints.source_split`.
Each failed episode's proposal (raw answer, accepted hints, rejections) is appended to
`proposals.jsonl` as soon as it is read, so a rerun only asks about the episodes still missing;
the bank is rebuilt from all proposals in episode-id order, so it is the same however often the
stage was interrupted and whatever order Stage A's episodes finished in.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from tqdm.auto import tqdm

from hintrag.artifacts import trajectories
from hintrag.hints.hintbank import Bank, Candidate, deduplicate
from hintrag.hints.writer import HINTS_SCHEMA, extraction_messages, parse_hints, trace_text
from hintrag.llm import Request, make_backend
from hintrag.llm.base import ERROR
from hintrag.stagegraph import BANK, PROPOSALS
from hintrag.store import Run, open_run, unique_by
from hintrag.validate import validate_model

log = logging.getLogger(__name__)


def failed_episodes(cfg: DictConfig, root: Path) -> tuple[str, list[dict[str, Any]]]:
    """The Stage A run's key and its failed episodes."""
    source_key, records = trajectories("extract", cfg, root)
    return source_key, [r for r in records if not r["success"]]


def _request(cfg: DictConfig, rec: dict[str, Any]) -> Request:
    messages = extraction_messages(
        cfg.env.instruction, rec["category"], rec["task"], trace_text(rec["initial_observation"], rec["trace"]),
        int(cfg.hints.min_hints), int(cfg.hints.max_hints), int(cfg.hints.max_chars), list(cfg.hints.format_example),
    )
    return Request(messages, int(cfg.hints.max_new_tokens), json_schema=HINTS_SCHEMA)


def kept_per_failure(hints: DictConfig) -> int:
    """Hints kept of one answer: hints.keep_hints, or as many as were asked for (hints.max_hints)."""
    keep = hints.get("keep_hints")
    return int(hints.max_hints if keep is None else keep)


def cut_chars(hints: DictConfig) -> int | None:
    """hints.cut_chars: None rejects a hint over hints.max_chars; a number cuts every hint to it instead."""
    cut = hints.get("cut_chars")
    return None if cut is None else int(cut)


def propose(cfg: DictConfig, run: Run, todo: list[dict[str, Any]], proposals: dict[str, dict[str, Any]]) -> int:
    """Ask the extractor about each failure; append one proposal per episode (and add it to
    `proposals`). Returns the number of errored episodes."""
    ex = cfg.extractor
    validate_model(ex)
    backend = make_backend(ex.backend, ex.model, ex.generation)
    errored = 0
    size = int(cfg.batch_size)
    copies_of = [h["text"] for h in cfg.hints.format_example]  # the prompt's format example: copies are rejected
    with tqdm(total=len(todo), desc="extract", unit="ep", dynamic_ncols=True) as bar:
        for start in range(0, len(todo), size):
            batch = todo[start : start + size]
            outs = backend.generate([_request(cfg, rec) for rec in batch])
            for rec, out in zip(batch, outs):
                if out.finish_reason == ERROR:  # left for the next run; never counted as a proposal
                    log.warning("extractor failed for %s (%s); retried on the next run", rec["episode_id"],
                                out.extra.get("error"))
                    errored += 1
                    bar.update(1)
                    continue
                parsed = parse_hints(out.text, kept_per_failure(cfg.hints), int(cfg.hints.max_chars), copies_of,
                                     cut_chars(cfg.hints))
                proposal = {
                    "episode_id": rec["episode_id"], "category": rec["category"], "raw": out.text,
                    "hints": [{"text": t, "type": ty} for t, ty in parsed.hints], "error": parsed.error,
                    "rejected": dict(parsed.rejected), "repaired": dict(parsed.repaired),
                    "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens,
                }
                run.append(PROPOSALS, proposal)
                proposals.setdefault(rec["episode_id"], proposal)
                bar.update(1)
    return errored


def build_bank(cfg: DictConfig, failures: list[dict[str, Any]], proposals: dict[str, dict[str, Any]]) -> Bank:
    candidates = [
        Candidate(h["text"], h["type"], p["category"], p["episode_id"])
        for rec in failures if (p := proposals.get(rec["episode_id"]))
        for h in p["hints"]
    ]
    return Bank(deduplicate(candidates, float(cfg.hints.dedup_threshold), str(cfg.extractor.name)))


def bank_metrics(failures: list[dict[str, Any]], proposals: dict[str, dict[str, Any]], bank: Bank,
                 errored: int) -> dict[str, Any]:
    read = [proposals[r["episode_id"]] for r in failures if r["episode_id"] in proposals]
    rejected: Counter = Counter()
    repaired: Counter = Counter()
    for p in read:
        rejected.update(p["rejected"])
        repaired.update(p["repaired"])
    accepted = sum(len(p["hints"]) for p in read)
    proposed = accepted + sum(rejected.values())
    return {
        "failures_read": len(read), "failures_errored": errored, "unparseable_outputs": sum(bool(p["error"]) for p in read),
        "hints_proposed": proposed, "hints_accepted": accepted, "hints_kept": len(bank.hints),
        "duplicates_absorbed": accepted - len(bank.hints), "rejected": dict(sorted(rejected.items())),
        "repaired": dict(sorted(repaired.items())), "per_category": {c: len(bank.by_category(c)) for c in bank.summary()},
        "extractor_tokens": sum(p["prompt_tokens"] + p["completion_tokens"] for p in read),
    }


def run(cfg: DictConfig, root: Path) -> dict[str, Any]:
    source_key, failures = failed_episodes(cfg, root)
    run_ = open_run("extract", cfg, root)
    proposals = unique_by(run_.records(PROPOSALS), "episode_id")
    todo = [r for r in failures if r["episode_id"] not in proposals]
    errored = propose(cfg, run_, todo, proposals) if todo else 0
    if not failures:
        print(f"extract: Stage A run {source_key} has no failed episodes; the bank is empty")
    bank = build_bank(cfg, failures, proposals)
    bank.save(run_.path / BANK)
    metrics = {"source_run": source_key, **bank_metrics(failures, proposals, bank, errored)}
    run_.write_json("metrics.json", metrics)
    print(f"extract: {metrics['failures_read']} failures read, {metrics['hints_proposed']} hints proposed, "
          f"{metrics['hints_kept']} kept after dedup, rejected {metrics['rejected'] or 'none'} -> {run_.path}")
    return {"run": str(run_.path), **metrics}
