"""Catalogue query understanding: LCSC ids, MPNs, values with units and package codes.

Ids and MPNs feed an exact-match fast path; values, tolerances and packages are soft features
that rank the records matching them first, never hard filters (a wrong guess must not empty the
results). "10k 0402 resistor" is never part C402: an id needs its leading "C". The words of
values and packages are the kind's grammar (``grammar.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from snapsearch.kinds.parts.grammar import (
    CHIP_SIZES,
    NUMBER,
    PACKAGE,
    UNIT_WORD,
    Value,
    category_words,
    context_unit,
    parse_value,
)

_LCSC = re.compile(r"(?<![\w])[Cc](\d{1,9})(?![\w]|\.\w)")  # "C25744." at a sentence end too
_TOKEN = re.compile(r"[\w.+/#%±-]+", re.UNICODE)


@dataclass
class ParsedQuery:
    text: str
    lcsc_ids: list[str] = field(default_factory=list)
    mpn_candidates: list[str] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # plain words, singular ("capacitor")


_QUERY_STOPWORDS = frozenset(
    "a an and are as at be but by for if in into is it of on or such that the their then there "
    "these they this to was will with".split()
)
# package families that are also words ("5V to 3.3V", "smd resistor"): a package only with a number
_WORD_FAMILIES = {"TO", "SMD", "SIP", "ZIP", "SON", "HC"}


def parse_query(text: str) -> ParsedQuery:
    tokens = [t.strip(".") for t in _TOKEN.findall(text) if t.strip(".")]
    context = context_unit(tokens)
    parsed = ParsedQuery(text=text)
    for m in _LCSC.finditer(text):
        parsed.lcsc_ids.append(f"C{int(m.group(1))}")
    skip = False
    for i, tok in enumerate(tokens):
        if skip:
            skip = False
            continue
        up = tok.upper()
        if tok in CHIP_SIZES or (PACKAGE.match(up) and up not in _WORD_FAMILIES):
            parsed.packages.append(up)
            continue
        nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
        if NUMBER.match(tok) and (UNIT_WORD.match(nxt) or nxt.lower() in ("pin", "pins")):
            v = parse_value(tok + nxt, context)
            if v is not None:
                parsed.values.append(replace(v, text=f"{tok} {nxt}"))
                skip = True
                continue
        v = parse_value(tok, context)
        if v is not None:
            parsed.values.append(v)
            continue
        has_alpha = any(c.isalpha() for c in tok)
        has_digit = any(c.isdigit() for c in tok)
        if len(tok) >= 4 and has_alpha and has_digit and not _LCSC.fullmatch(tok):
            parsed.mpn_candidates.append(up)
    parsed.words = [w for w in dict.fromkeys(category_words(" ".join(
        t for t in tokens if t.isalpha()))) if w not in _QUERY_STOPWORDS]
    stripped = text.strip()
    if " " not in stripped and len(stripped) >= 3 and stripped.upper() not in parsed.mpn_candidates:
        parsed.mpn_candidates.append(stripped.upper())
    return parsed
