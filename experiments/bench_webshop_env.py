"""Benchmark: latency of the WebShop text env's reset, search, click and buy.

    python experiments/bench_webshop_env.py n_episodes=50
    python experiments/bench_webshop_env.py n_episodes=50 env.search=lucene env.data_dir=DIR split=test

The project's Hydra config with `env=webshop` implied; any override works. It reads `env.data_dir`
(default $WEBSHOP_DATA, else ../shared/data/webshop), `env.search`, `env.cache_dir` (null: a fresh
temporary index, so the build is cold), `split` and `n_episodes` (null = the whole split; the config's
default is 4). Hydra's own log goes under outputs/hydra/ (git-ignored), as for the other benchmarks.

Plays one scripted episode per goal (search the instruction, search the goal's query, next
page, back, open the first result, its three sub-pages, one option, buy) and prints median / p90 / max milliseconds per
action kind. Searches are timed cold (first time a query is asked) and cached (the env
remembers a query's ranking, as pages re-ask it). The original's SimServer takes about 4-5 ms
per reset, 55-114 ms per search and 16-36 ms per click on the same data.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from hintrag.envs.webshop.env import WebShopSuite  # noqa: E402
from hintrag.errors import ConfigError  # noqa: E402

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


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.env.name != "webshop":
        raise ConfigError(f"env={cfg.env.name}: this script benchmarks the WebShop env (env=webshop)")
    times: dict[str, list[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        env = OmegaConf.to_container(cfg.env, resolve=True)
        env["data_dir"] = env.get("data_dir") or str(DEFAULT_DATA)
        env["cache_dir"] = env.get("cache_dir") or tmp
        started = time.perf_counter()
        suite = WebShopSuite(OmegaConf.create(env))
        times["suite (products + goals)"].append(time.perf_counter() - started)
        started = time.perf_counter()
        suite.engine  # noqa: B018 - build the index outside the timed actions
        times["search index build"].append(time.perf_counter() - started)
        for spec in suite.episodes(cfg.split)[: cfg.n_episodes]:
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
    if not any(arg.startswith("env=") for arg in sys.argv[1:]):
        sys.argv.insert(1, "env=webshop")  # this script only makes sense for WebShop
    main()
