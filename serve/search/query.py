"""Catalogue query understanding: LCSC ids, MPNs, values with units and package codes.

Ids and MPNs feed an exact-match fast path; values and packages are soft boosts, never hard
filters (a wrong guess must not empty the results). "10k 0402 resistor" is never part C402:
an id needs its leading "C".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LCSC = re.compile(r"(?<![\w])[Cc](\d{1,9})(?![\w]|\.\w)")  # "C25744." at a sentence end too
_TOKEN = re.compile(r"[\w.+/#-]+", re.UNICODE)
_PREFIX = {"p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "k": 1e3, "K": 1e3,
           "M": 1e6, "G": 1e9, "": 1.0}
_UNIT = {
    "ω": "resistance", "ohm": "resistance", "ohms": "resistance", "r": "resistance",
    "f": "capacitance", "farad": "capacitance",
    "h": "inductance", "henry": "inductance",
    "v": "voltage", "vdc": "voltage", "vac": "voltage",
    "a": "current", "amp": "current", "amps": "current",
    "hz": "frequency", "w": "power", "watt": "power",
}
_VALUE = re.compile(
    r"^(?P<num>\d+(?:\.\d+)?)(?P<prefix>[pnuµμmkKMG]?)(?P<unit>ω|Ω|ohms?|r|f|farad|h|henry|vdc|vac|v|amps?|a|hz|w|watt)?$",
    re.IGNORECASE,
)
_RKM = re.compile(r"^(?P<a>\d+)(?P<prefix>[rRkKmM])(?P<b>\d+)$")  # 4k7, 2R2
_CHIP_SIZES = {"01005", "0201", "0402", "0603", "0805", "1206", "1210", "1812", "2010", "2512", "2220"}
_PACKAGE = re.compile(
    r"^(SOT|SOD|SOIC|SOP|TSSOP|MSOP|SSOP|VSSOP|HTSSOP|ESOP|QFN|DFN|VQFN|WQFN|UQFN|LQFP|TQFP|QFP|"
    r"DIP|PDIP|TO|SMA|SMB|SMC|SMD|BGA|LGA|WSON|SON|USON|UDFN|LGA|SIP|ZIP)(-?\d+[A-Z]?)*(-\d+)?$"
)
_CONTEXT_UNITS = {
    "resistor": "resistance", "resistors": "resistance", "resistance": "resistance",
    "capacitor": "capacitance", "capacitors": "capacitance", "cap": "capacitance", "mlcc": "capacitance",
    "inductor": "inductance", "inductors": "inductance", "choke": "inductance",
    "crystal": "frequency", "oscillator": "frequency", "xtal": "frequency",
}


@dataclass(frozen=True)
class Value:
    text: str
    unit: str  # unit kind, as in attributes_numeric ("resistance", "capacitance", ...)
    value: float


@dataclass
class ParsedQuery:
    text: str
    lcsc_ids: list[str] = field(default_factory=list)
    mpn_candidates: list[str] = field(default_factory=list)
    values: list[Value] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)


def _context_unit(tokens: list[str]) -> str | None:
    for t in tokens:
        u = _CONTEXT_UNITS.get(t.lower())
        if u:
            return u
    return None


def parse_value(token: str, context: str | None) -> Value | None:
    m = _RKM.match(token)
    if m:
        p = m.group("prefix")
        scale = 1.0 if p in "rR" else _PREFIX[p if p != "K" else "k"] if p not in "mM" else 1e6
        value = float(f"{m.group('a')}.{m.group('b')}") * scale
        return Value(token, "resistance", value)
    m = _VALUE.match(token)
    if not m:
        return None
    num, prefix, unit = m.group("num"), m.group("prefix"), (m.group("unit") or "").lower()
    if not prefix and not unit:
        return None  # a bare number: a package code, a pin count... not a value
    kind = _UNIT.get(unit) if unit else None
    if prefix == "M" and not unit:
        kind = "resistance" if context in (None, "resistance") else context
    if kind is None:
        if prefix in ("p", "n") and context != "inductance":
            kind = "capacitance"
        elif prefix in ("u", "µ", "μ"):
            kind = context if context in ("capacitance", "inductance") else "capacitance"
        elif prefix in ("k", "K"):
            kind = context if context in ("resistance", "frequency") else "resistance"
        elif prefix == "m" and unit == "" and context == "resistance":
            kind = "resistance"
        else:
            return None
    if prefix == "m" and kind == "resistance" and unit in ("", "r"):
        return None  # "1m" resistor is ambiguous (mΩ or MΩ)
    scale = _PREFIX.get(prefix, 1.0)
    if prefix == "M" and kind in ("resistance", "frequency"):
        scale = 1e6
    elif prefix == "m" and kind in ("frequency",):
        scale = 1e6  # "12mhz" means MHz
    return Value(token, kind, float(num) * scale)


# package families that are also words ("5V to 3.3V", "smd resistor"): a package only with a number
_WORD_FAMILIES = {"TO", "SMD", "SIP", "ZIP", "SON"}


def _bare_word_family(token: str) -> bool:
    return token in _WORD_FAMILIES


def normalise_package(text: str) -> str:
    return text.upper().replace(" ", "")


def parse_query(text: str) -> ParsedQuery:
    tokens = _TOKEN.findall(text)
    context = _context_unit(tokens)
    parsed = ParsedQuery(text=text)
    for m in _LCSC.finditer(text):
        parsed.lcsc_ids.append(f"C{int(m.group(1))}")
    for tok in tokens:
        up = tok.upper()
        if tok in _CHIP_SIZES or (_PACKAGE.match(up) and not _bare_word_family(up)):
            parsed.packages.append(up)
            continue
        v = parse_value(tok.rstrip("."), context)
        if v is not None:
            parsed.values.append(v)
            continue
        has_alpha = any(c.isalpha() for c in tok)
        has_digit = any(c.isdigit() for c in tok)
        if len(tok) >= 4 and has_alpha and has_digit and not _LCSC.fullmatch(tok):
            parsed.mpn_candidates.append(up)
    stripped = text.strip()
    if " " not in stripped and len(stripped) >= 3 and stripped.upper() not in parsed.mpn_candidates:
        parsed.mpn_candidates.append(stripped.upper())
    return parsed
