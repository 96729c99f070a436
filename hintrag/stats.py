"""95% intervals for the report: Wilson for success rates, bootstrap over episodes for means, and
the paired bootstrap for a regime's difference against Base on the same episodes.

With a handful of episodes a rate says little; the intervals make that visible instead of the
reader having to guess. Bootstraps are seeded, so a report is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval."""

    value: float
    low: float
    high: float

    def scaled(self, factor: float) -> "Interval":
        return Interval(self.value * factor, self.low * factor, self.high * factor)


def wilson(successes: int, n: int) -> Interval:
    """Wilson score interval of a success rate (sensible at 0 and n, unlike the normal one)."""
    if n == 0:
        return Interval(0.0, 0.0, 1.0)
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=LEVEL, method="wilson")
    return Interval(successes / n, float(ci.low), float(ci.high))


def _bootstrap(samples: tuple[np.ndarray, ...], statistic, value: float) -> Interval:
    """Percentile bootstrap over episodes (scipy), seeded; a constant sample has a point interval."""
    if len(samples[0]) < 2 or all(np.all(s == s[0]) for s in samples):
        return Interval(value, value, value)
    res = stats.bootstrap(samples, statistic, paired=len(samples) > 1, vectorized=True, confidence_level=LEVEL,
                          n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(SEED))
    return Interval(value, float(res.confidence_interval.low), float(res.confidence_interval.high))


def bootstrap_mean(values: Sequence[float]) -> Interval:
    """A mean over episodes (score, tokens) with its percentile bootstrap interval."""
    data = np.asarray(values, dtype=float)
    if len(data) == 0:
        return Interval(0.0, 0.0, 0.0)
    return _bootstrap((data,), lambda x, axis: x.mean(axis=axis), float(data.mean()))


def paired_difference(treated: Sequence[float], base: Sequence[float]) -> Interval:
    """Mean of treated - base over the same episodes, with a paired percentile bootstrap interval
    (episodes resampled together, so each game's own difficulty cancels)."""
    a, b = np.asarray(treated, dtype=float), np.asarray(base, dtype=float)
    if len(a) != len(b):
        raise ValueError(f"paired difference needs the same episodes: {len(a)} against {len(b)}")
    if len(a) == 0:
        return Interval(0.0, 0.0, 0.0)
    diff = float((a - b).mean())
    if np.all(a - b == a[0] - b[0]):
        return Interval(diff, diff, diff)
    return _bootstrap((a, b), lambda x, y, axis: x.mean(axis=axis) - y.mean(axis=axis), diff)
