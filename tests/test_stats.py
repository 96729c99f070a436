"""The report's interval code against known values and properties."""

from __future__ import annotations

import numpy as np
import pytest

from hintrag import stats


def test_wilson_matches_published_values() -> None:
    # Wilson 95% intervals as tabulated by Newcombe (1998), Table I: 0/10, 1/29, 81/263, 15/148
    assert stats.wilson(0, 10).high == pytest.approx(0.2775, abs=1e-4) and stats.wilson(0, 10).low == 0.0
    assert (stats.wilson(1, 29).low, stats.wilson(1, 29).high) == (pytest.approx(0.0061, abs=1e-4),
                                                                   pytest.approx(0.1718, abs=1e-4))
    assert (stats.wilson(81, 263).low, stats.wilson(81, 263).high) == (pytest.approx(0.2553, abs=1e-4),
                                                                       pytest.approx(0.3662, abs=1e-4))
    assert stats.wilson(15, 148).value == pytest.approx(15 / 148)
    assert stats.wilson(0, 0) == stats.Interval(0.0, 0.0, 1.0)  # nothing known


def test_bootstrap_mean_covers_the_normal_interval_on_a_large_sample() -> None:
    values = np.random.default_rng(1).normal(10.0, 2.0, size=400)
    e = stats.bootstrap_mean(values)
    half = 1.96 * values.std(ddof=1) / np.sqrt(len(values))
    assert e.value == pytest.approx(values.mean())
    assert e.low == pytest.approx(values.mean() - half, abs=0.05) and e.high == pytest.approx(values.mean() + half, abs=0.05)
    assert stats.bootstrap_mean([3.0, 3.0]) == stats.Interval(3.0, 3.0, 3.0)
    assert stats.bootstrap_mean([1.0, 2.0, 3.0]) == stats.bootstrap_mean([1.0, 2.0, 3.0])  # seeded


def test_paired_bootstrap_cancels_what_both_share() -> None:
    rng = np.random.default_rng(2)
    difficulty = rng.normal(0, 5, size=60)  # each episode's own difficulty, shared by both regimes
    base, treated = difficulty, difficulty + 1.0 + rng.normal(0, 0.1, size=60)
    paired = stats.paired_difference(treated, base)
    assert paired.value == pytest.approx(1.0, abs=0.05) and 0.9 < paired.low < 1.0 < paired.high < 1.1
    unpaired = stats.bootstrap_mean(treated - base.mean())
    assert unpaired.high - unpaired.low > 10 * (paired.high - paired.low)
    assert stats.paired_difference([1, 1, 0], [0, 0, -1]) == stats.Interval(1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match="same episodes"):
        stats.paired_difference([1, 0], [1])
