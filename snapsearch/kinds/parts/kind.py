"""The electronic-parts catalogue kind (JLCPCB / LCSC records, see data/sample/README.md)."""

from __future__ import annotations

import math
import re
from typing import Any

from snapsearch.format.writer import Row
from snapsearch.kinds.base import RecordKind, RejectRecord, optional_str, require_str
from snapsearch.kinds.parts.query import parse_value

_LCSC = re.compile(r"^C\d+$")
_LIBRARY_TYPES = {"Basic", "Preferred", "Extended"}
_KEY_ATTRIBUTES = 4

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


class PartsKind(RecordKind):
    name = "parts"
    # 2: display-only attributes that read as one value ("Zener voltage (nom)": "3.3V",
    #    "Tolerance": "±1%") are numeric attributes too
    version = 2
    template = (
        "{mfr_part} {manufacturer}. {category}: {subcategory}. {package}. {description}. "
        "{key_attributes}"
    )
    lexical_fields = {
        "lcsc": 10.0,
        "mpn": 8.0,
        "manufacturer": 2.0,
        "category": 2.0,
        "package": 2.0,
        "description": 1.0,
        "values": 1.5,
    }
    filter_columns = {
        "mpn": "text",
        "manufacturer": "text",
        "category": "text",
        "subcategory": "text",
        "package": "text",
        "library_type": "text",
        "stock": "integer",
        "price_usd": "real",
    }
    summary_fields = [
        "lcsc", "mpn", "manufacturer", "category", "subcategory", "package",
        "library_type", "stock", "price_usd", "description", "datasheet_url",
    ]
    # '.' kept inside tokens so "4.7uf" or "3.3v" stay one token
    tokenizer = "porter unicode61 remove_diacritics 2 tokenchars '.'"

    def to_row(self, raw: Any) -> Row:
        if not isinstance(raw, dict):
            raise RejectRecord("record is not a JSON object")
        lcsc = require_str(raw, "lcsc")
        if not _LCSC.match(lcsc):
            raise RejectRecord(f"lcsc {lcsc!r} is not an LCSC id (C followed by digits)")
        mpn = require_str(raw, "mfr_part")
        category = require_str(raw, "category")
        subcategory = optional_str(raw, "subcategory")
        package = optional_str(raw, "package")
        manufacturer = optional_str(raw, "manufacturer")
        description = optional_str(raw, "description")
        library_type = optional_str(raw, "library_type") or "Extended"
        if library_type not in _LIBRARY_TYPES:
            raise RejectRecord(
                f"library_type {library_type!r} is not one of {sorted(_LIBRARY_TYPES)}"
            )
        stock = raw.get("stock", 0)
        if stock is None:
            stock = 0
        if isinstance(stock, bool) or not isinstance(stock, int) or stock < 0:
            raise RejectRecord(f"stock {stock!r} is not a non-negative integer")
        attributes = raw.get("attributes") or {}
        numeric = raw.get("attributes_numeric") or {}
        if not isinstance(attributes, dict) or not isinstance(numeric, dict):
            raise RejectRecord("attributes / attributes_numeric are not objects")
        tiers = raw.get("price_tiers") or []
        price = None
        if isinstance(tiers, list) and tiers and isinstance(tiers[0], dict):
            p = tiers[0].get("unit_price_usd")
            price = float(p) if isinstance(p, int | float) else None

        numeric_rows: list[tuple[str, str, str, float]] = []
        spellings: list[str] = []
        for attr, keys in sorted(numeric.items()):
            if not isinstance(keys, dict):
                continue
            for key, cell in sorted(keys.items()):
                if not isinstance(cell, dict):
                    continue
                v = cell.get("value")
                if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                    unit = str(cell.get("unit") or "")
                    numeric_rows.append((attr, key, unit, float(v)))
                    spellings.extend(si_spellings(float(v), unit))
        for attr, display in sorted(attributes.items()):
            if attr in numeric or not isinstance(display, str):
                continue
            value = parse_value(display.strip(), None)  # the parser that reads queries
            if value is not None and math.isfinite(value.value):
                numeric_rows.append((attr, value.unit, value.unit, value.value))
                spellings.extend(si_spellings(value.value, value.unit))
        tol = attributes.get("Tolerance")
        if isinstance(tol, str):
            spellings.extend(m + "%" for m in re.findall(r"(\d+(?:\.\d+)?)\s*%", tol))
        key_attrs = "; ".join(
            [
                f"{k}: {v}"
                for k, v in attributes.items()
                if isinstance(v, str) and v.strip() not in ("", "-") and v not in description
            ][:_KEY_ATTRIBUTES]
        )
        text = self.template.format(
            mfr_part=mpn, manufacturer=manufacturer or "unknown manufacturer", category=category,
            subcategory=subcategory, package=package or "unspecified", description=description,
            key_attributes=key_attrs,
        )
        detail = dict(raw)
        return Row(
            id=lcsc,
            text=text,
            lexical={
                "lcsc": lcsc,
                "mpn": mpn,
                "manufacturer": manufacturer,
                "category": f"{category} {subcategory}",
                "package": package,
                "description": f"{description} {' '.join(str(v) for v in attributes.values())}",
                "values": " ".join(dict.fromkeys(spellings)),
            },
            filters={
                "mpn": mpn.upper(),
                "manufacturer": manufacturer,
                "category": category,
                "subcategory": subcategory,
                "package": package,
                "library_type": library_type,
                "stock": stock,
                "price_usd": price,
            },
            summary={
                "lcsc": lcsc, "mpn": mpn, "manufacturer": manufacturer, "category": category,
                "subcategory": subcategory, "package": package, "library_type": library_type,
                "stock": stock, "price_usd": price, "description": description,
                "datasheet_url": raw.get("datasheet_url"),
            },
            detail=detail,
            numeric=numeric_rows,
        )
