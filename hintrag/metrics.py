"""Episode metrics, the same for every stage that plays episodes (rollout, teacher, eval)."""

from __future__ import annotations

from collections import Counter, defaultdict
from statistics import mean
from typing import Any, Sequence


def _mean(values: Sequence[float]) -> float:
    return round(mean(values), 4) if values else 0.0


def episode_metrics(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Success rate overall and per category, score, mean steps and mean tokens per episode."""
    by_category: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:
        by_category[rec["category"]].append(rec)
    mean_reward = _mean([r["reward"] for r in records])
    return {
        "n_episodes": len(records),
        "success_rate": _mean([float(r["success"]) for r in records]),  # success: reward == 1.0 where rewards are graded
        "mean_reward": mean_reward,
        "score": round(100 * mean_reward, 2),  # the score of graded envs: mean reward x 100
        "per_category": {
            cat: {"n_episodes": len(recs), "success_rate": _mean([float(r["success"]) for r in recs])}
            for cat, recs in sorted(by_category.items())
        },
        "mean_steps": _mean([r["steps"] for r in records]),
        "mean_prompt_tokens": _mean([r["prompt_tokens"] for r in records]),
        "mean_completion_tokens": _mean([r["completion_tokens"] for r in records]),
        "mean_retrieval_tokens": _mean([r["retrieval_tokens"] for r in records]),
        "mean_total_tokens": _mean([r["total_tokens"] for r in records]),
        "mean_nothing_happens": _mean([r["nothing_happens"] for r in records]),
        "mean_invalid_actions": _mean([r["invalid_actions"] for r in records]),
        "end_reasons": dict(sorted(Counter(r["end_reason"] for r in records).items())),
    }
