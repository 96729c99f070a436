"""Lucene-style BM25 over short texts: Anserini's English analyzer and BM25Similarity, in Python.

The shopping env's product search ranks its catalog with it, exactly as the original's pyserini
index does, and hint retrieval (`retrieval=bm25`) scores a category's hints
with it. Why float32 and one-byte length norms: that is how Lucene scores, and equal Lucene
scores must stay equal here so that ties break the same way (by document id).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
import regex

K1, B = 0.9, 0.4  # Anserini's defaults

STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it no not of on or such that the their then "
    "there these they this to was will with".split()
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

    doc_id: str
    score: float

class BM25:
    """Lucene's BM25 in float32 over an in-memory inverted index (about a second to build)."""

    def __init__(self, documents: Iterable[tuple[str, str]]) -> None:
        docs = list(documents)
        self.ids = [doc_id for doc_id, _ in docs]
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
        self._id_rank = np.argsort(np.argsort(np.array(self.ids), kind="stable"))  # for ties

    def hits(self, query: str, k: int = 50) -> list[Hit]:
        """Top k with Lucene's float32 scores; equal scores in id order (Anserini's tiebreak)."""
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
        top = rows[np.lexsort((self._id_rank[rows], -scores))][:k]
        return [Hit(self.ids[i], float(np.float32(total[i]))) for i in top]

    def search(self, query: str, k: int = 50) -> list[str]:
        return [hit.doc_id for hit in self.hits(query, k)]
