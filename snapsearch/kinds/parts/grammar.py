"""The parts kind's value grammar: values with units and SI prefixes, tolerances, pin counts and
grids, packages, category words and ratings.

One grammar serves both directions: the kind reads display-only attributes with it when it writes
rows ("Zener voltage (nom)": "3.3V" becomes a numeric attribute), and the ranking reads queries
with it ("3.3V zener"). It shapes the rows the kind writes, so changing it changes
``PartsKind.version`` (tests/snapsearch/kinds/test_golden.py fails until it does).

A voltage, current or power asked of a rating ("25V capacitor", "3A inductor") is a minimum: a
record matches when the value is equal on any attribute of that unit, or at least as high on an
attribute that states a rating or a maximum (``is_rating``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

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
_PERCENT = re.compile(r"^±?(?P<num>\d+(?:\.\d+)?)%$")  # a tolerance: 1%, ±0.5%
NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_PINS = re.compile(r"^(?P<num>\d{1,3})(?:-?pins?|p)$", re.IGNORECASE)  # 16P, 16pin, 16-pin
PIN_ATTRIBUTES = r"pin|contact|position"
# a pin grid: 2x5, 2x5P (value = rows * 1000 + columns, so 2x5 is not 1x10)
_GRID = re.compile(r"^(?P<rows>\d{1,2})[x*×](?P<cols>\d{1,3})p?$", re.IGNORECASE)
# a unit written apart from its number: "100 ohm", "3.3 V", "22 pF"
UNIT_WORD = re.compile(r"^[pnuµμmkKMG]?(ω|Ω|ohms?|f|farad|h|henry|vdc|vac|v|amps?|a|hz|w|watt)$",
                        re.IGNORECASE)
RATING_MATCH = 0.5
VALUE_TOL = 1e-6  # relative: 10k typed is 10000.0 stored, whatever the float rounding
RATED_UNITS = frozenset({"voltage", "current", "power"})
_RATING = re.compile(
    r"allowable|rated|rating|\(max\)|\bmax\b|power|output current|vdss|\(vr\)|ripple|"
    r"drain to source|drain source voltage|continuous drain|collector|rectified",
    re.IGNORECASE,
)
# the last five: crystal/oscillator sizes
CHIP_SIZES = {"01005", "0201", "0402", "0603", "0805", "1206", "1210", "1812", "2010", "2512",
               "2220", "2016", "2520", "3225", "5032", "7050"}
PACKAGE = re.compile(
    r"^(SOT|SOD|SOIC|SOP|TSSOP|MSOP|SSOP|VSSOP|HTSSOP|ESOP|QFN|DFN|VQFN|WQFN|UQFN|LQFP|TQFP|QFP|"
    r"DIP|PDIP|TO|SMA|SMB|SMC|SMD|BGA|LGA|WSON|SON|USON|UDFN|LGA|SIP|ZIP|HC)(-?\d+[A-Z]*)*(-\d+)?$"
)
_CONTEXT_UNITS = {
    "resistor": "resistance", "resistors": "resistance", "resistance": "resistance",
    "capacitor": "capacitance", "capacitors": "capacitance", "cap": "capacitance",
    "mlcc": "capacitance",
    "inductor": "inductance", "inductors": "inductance", "choke": "inductance",
    "crystal": "frequency", "oscillator": "frequency", "xtal": "frequency",
}


@dataclass(frozen=True)
class Value:
    text: str
    unit: str  # unit kind, as in attributes_numeric ("resistance", ...; "percent": a tolerance)
    value: float
    only: str | None = None  # a pattern the attribute's name must hold (pin counts: pins, contacts)

    @property
    def at_least(self) -> bool:
        """A rating: a record with a higher rating also matches."""
        return self.unit in RATED_UNITS

    @property
    def bounds(self) -> tuple[float, float]:
        """The numbers that count as equal to this value (relative tolerance ``VALUE_TOL``)."""
        tol = abs(self.value) * VALUE_TOL
        return self.value - tol, self.value + tol

    def match(self, attribute: str, unit: str, value: float) -> float:
        """How well one numeric attribute of a record meets this value: 1 equal, 0.5 a higher
        rating (a 50V capacitor for "25V" does, but the 25V one is what was asked), else 0."""
        if unit != self.unit or (self.only and not re.search(self.only, attribute, re.IGNORECASE)):
            return 0.0
        lo, hi = self.bounds
        if lo <= value <= hi:
            return 1.0
        if self.at_least and value >= lo and is_rating(attribute):
            return RATING_MATCH
        return 0.0


def is_rating(attribute: str) -> bool:
    """An attribute that states a rating or a maximum ("Allowable voltage", "Rated current")."""
    return bool(_RATING.search(attribute))


_WORD = re.compile(r"[a-z]+")


def category_words(text: str) -> list[str]:
    """Lower-case alphabetic words in the singular: 'Crystal Oscillators' -> crystal, oscillator;
    'Load Switches' -> load, switch."""
    out = []
    for w in _WORD.findall(text.lower()):
        if len(w) > 4 and w.endswith(("ches", "shes", "xes", "sses")):
            w = w[:-2]
        elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        out.append(w)
    return out


def context_unit(tokens: list[str]) -> str | None:
    for t in tokens:
        u = _CONTEXT_UNITS.get(t.lower())
        if u:
            return u
    return None


def parse_value(token: str, context: str | None) -> Value | None:
    m = _PERCENT.match(token)
    if m:
        return Value(token, "percent", float(m.group("num")))
    m = _PINS.match(token)
    if m:
        return Value(token, "count", float(m.group("num")), only=PIN_ATTRIBUTES)
    m = _GRID.match(token)
    if m:
        return Value(token, "grid", int(m.group("rows")) * 1000.0 + int(m.group("cols")))
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


# Tolerance windows: a toleranced value ("Resistance" 10 kΩ with "Tolerance" ±5 %) is written with
# the window its tolerance allows (snapsearch.kinds.lookup: WINDOW_MIN / WINDOW_MAX rows).
TOLERANCED_ATTRIBUTES = frozenset({"Resistance", "Capacitance", "Inductance",
                                   "Impedance @ frequency"})
TOLERANCED_UNITS = frozenset({"resistance", "capacitance", "inductance"})
_TOL_SYMMETRIC = re.compile(r"^±?\s*(?P<num>\d+(?:\.\d+)?)\s*%$")
_TOL_ASYMMETRIC = re.compile(
    r"^(?P<lo>[-+]?\d+(?:\.\d+)?)\s*%\s*[~～]\s*(?P<hi>[-+]?\d+(?:\.\d+)?)\s*%$"
)
_TOL_ABSOLUTE = re.compile(r"^±\s*(?P<value>\d+(?:\.\d+)?\s*[pnuµμmkKMG]?[A-Za-zΩω]+)$")


def tolerance_window(text: str, value: float, unit: str) -> tuple[float, float] | None:
    """The window a tolerance allows around ``value``: "±5%" -> (0.95 v, 1.05 v), "-20%~+80%" ->
    (0.8 v, 1.8 v), "±0.25pF" -> (v - 0.25p, v + 0.25p) when its unit is ``unit``; None when the
    text is no tolerance of this value ("-", "±1℃")."""
    text = text.strip()
    m = _TOL_SYMMETRIC.match(text)
    if m:
        frac = float(m.group("num")) / 100
        return _ordered(value * (1 - frac), value * (1 + frac))
    m = _TOL_ASYMMETRIC.match(text)
    if m:
        lo, hi = float(m.group("lo")) / 100, float(m.group("hi")) / 100
        if lo > hi:
            return None
        return _ordered(value * (1 + lo), value * (1 + hi))
    m = _TOL_ABSOLUTE.match(text)
    if m:
        delta = parse_value(m.group("value").replace(" ", ""), unit)
        if delta is not None and delta.unit == unit:
            return _ordered(value - delta.value, value + delta.value)
    return None


def _ordered(a: float, b: float) -> tuple[float, float]:
    return (a, b) if a <= b else (b, a)


def normalise_package(text: str) -> str:
    return text.upper().replace(" ", "")


_GROUPS = re.compile(r"[A-Z]+|\d+(?:\.\d+)?")


def package_groups(text: str) -> tuple[str, ...]:
    """'SOT-23-3' -> ('SOT', '23', '3'); 'SOD123FL' -> ('SOD', '123', 'FL')."""
    return tuple(_GROUPS.findall(text.upper()))


def package_matches(query_package: str, record_package: str) -> bool:
    """A record's package is the one asked for: the same groups, or those followed by an alias
    in parentheses ('SOT-23(TO-236)'); a bare size code ('3225') may sit inside ('SMD3225-4P').
    A bare family ('QFN') is any of its sizes. 'SOT-23' is not 'SOT-23-5', 'SOD-123' not
    'SOD-123FL'."""
    q, r = package_groups(query_package), package_groups(record_package)
    if not q or not r:
        return False
    if r == q:
        return True
    if len(q) == 1 and q[0].isdigit() and len(q[0]) == 4:
        return q[0] in r
    if len(q) == 1 and q[0].isalpha():
        return r[0] == q[0]  # a family without a size: 'QFN' is any QFN
    if r[: len(q)] != q:
        return False
    rest = r[len(q) :]
    if len(rest) == 2 and rest[0].isdigit() and rest[1] in ("MIL", "MM"):
        return True  # a body width: 'SOP-8-150mil' is an SOP-8
    rec = normalise_package(record_package).replace("-", "")
    head = "".join(q)
    return rec.startswith(head) and rec[len(head) :].startswith("(")


# unit kind -> (symbols written after the SI prefix, e.g. 10k -> "10k", "10kohm")
_UNIT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "resistance": ("", "ohm", "r"),
    "capacitance": ("", "f"),
    "inductance": ("", "h"),
    "voltage": ("v",),
    "current": ("a",),
    "frequency": ("hz",),
    "power": ("w",),
}
_PREFIXES = [(1e9, "g"), (1e6, "m"), (1e3, "k"), (1.0, ""),
             (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")]


def si_spellings(value: float, unit: str) -> list[str]:
    """Ways a value is typed in a search box: 10000 Ω -> 10k, 10kohm; 1e-7 F -> 100n, 100nf,
    0.1u."""
    suffixes = _UNIT_SUFFIXES.get(unit)
    if suffixes is None or not math.isfinite(value) or value <= 0:
        return []
    out: list[str] = []
    for scale, prefix in _PREFIXES:
        if unit == "frequency" and prefix == "m" and scale < 1:
            continue
        mant = value / scale
        if 1 <= mant < 1000 or (0.1 <= mant < 1 and scale in (1e-6, 1.0)):
            txt = f"{mant:.3f}".rstrip("0").rstrip(".")
            if prefix == "m" and scale > 1 and unit != "resistance" and unit != "frequency":
                continue  # mega only reads naturally for ohms and hertz
            p = prefix.upper() if (scale > 1 and prefix == "m") else prefix
            out.extend(f"{txt}{p}{s}".lower() for s in suffixes if p or s)
    return out
