"""Benchmark: latency of the WebShop text env's reset, search, click and buy.

    python experiments/bench_webshop_env.py [--data DIR] [--episodes 50] [--search bm25]

Plays one scripted episode per goal (search the instruction, search the goal's query, next
page, back, open the first result, its three sub-pages, one option, buy) and prints median / p90 / max milliseconds per
action kind. Searches are timed cold (first time a query is asked) and cached (the env
remembers a query's ranking, as pages re-ask it). The original's SimServer takes about 4-5 ms
per reset, 55-114 ms per search and 16-36 ms per click on the same data.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from omegaconf import OmegaConf  # noqa: E402

from hintrag.envs.webshop.env import WebShopSuite  # noqa: E402

DEFAULT_DATA = Path(os.environ.get("WEBSHOP_DATA", Path(__file__).resolve().parents[2] / "shared/data/webshop"))


def kind_of(action: str, first_search: bool) -> str:
    if action.startswith("search["):
        size = "instruction" if len(action.split()) > 6 else "short query"
        return f"search ({size}, {'cold' if first_search else 'cached'})"
    if action == "click[buy now]":
        return "buy (reward)"
    if action in ("click[next >]", "click[< prev]", "click[back to search]"):
        return "click (navigation)"
    return "click (item/option/sub-page)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--search", default="bm25")
    args = parser.parse_args()

    times: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        suite = WebShopSuite(OmegaConf.create({"data_dir": str(args.data), "search": args.search, "cache_dir": cache}))
        times["suite (products + goals)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        suite.engine  # noqa: B018 - build the index outside the timed actions
        times["search index build"].append(time.perf_counter() - started)
        for spec in suite.episodes("test")[: args.episodes]:
            episode = suite.make(spec)
            started = time.perf_counter()
            episode.reset()
            times["reset"].append(time.perf_counter() - started)
            query = episode.goal.query
            script = [f"search[{episode.task.lower()}]", f"search[{query}]", "click[next >]", "click[< prev]"]
            for action in script + [None, "click[description]", "click[< prev]", "click[features]", "click[< prev]",
                                    "click[reviews]", "click[< prev]", None, "click[buy now]"]:
                if action is None:  # pick from the page: the first result, then the first option
                    wanted = "link" if episode.page.kind == "results" else "radio"
                    targets = [name for name, c in episode.page.clickables.items() if c.kind == wanted]
                    if not targets:
                        continue
                    action = f"click[{targets[0]}]"
                cold = action.startswith("search[") and action[7:-1] not in suite._hits
                kind = kind_of(action, cold)
                if kind == "buy (reward)" and kind not in times and "buy (first: loads spaCy)" not in times:
                    kind = "buy (first: loads spaCy)"
                started = time.perf_counter()
                episode.step(action)
                times[kind].append(time.perf_counter() - started)

    print(f"{'action':32} {'n':>5} {'median ms':>10} {'p90 ms':>8} {'max ms':>8}")
    for kind, values in times.items():
        ms = sorted(v * 1000 for v in values)
        p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
        print(f"{kind:32} {len(ms):5d} {statistics.median(ms):10.2f} {p90:8.2f} {ms[-1]:8.2f}")


if __name__ == "__main__":
    main()
