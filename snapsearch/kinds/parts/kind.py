"""The electronic-parts catalogue kind (JLCPCB / LCSC records, see data/sample/README.md)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from snapsearch.format.reader import Collection
from snapsearch.format.writer import Row
from snapsearch.kinds.base import (
    RecordKind,
    RejectRecord,
    draw_queries,
    optional_str,
    require_str,
)
from snapsearch.kinds.filters import AtLeast, Equals, NumericRanges, Positive
from snapsearch.kinds.lookup import WINDOW_MAX, WINDOW_MIN, SortKey
from snapsearch.kinds.parts.grammar import (
    TOLERANCED_ATTRIBUTES,
    TOLERANCED_UNITS,
    normalise_package,
    package_matches,
    parse_value,
    si_spellings,
    tolerance_window,
)
from snapsearch.kinds.parts.ranking import PartsRanker
from snapsearch.kinds.ranking import Ranker

_LCSC = re.compile(r"^C[0-9]+$")  # ASCII digits only: \d also matches "٣" (Arabic-Indic)
LIBRARY_TYPES = ("Basic", "Preferred", "Extended")
_KEY_ATTRIBUTES = 4


def package_is(asked: str, stored: str) -> bool:
    """A lookup's package: the catalogue's spelling in any case and spacing, or the package the
    search grammar reads it as ('SOT-23' is 'SOT-23(TO-236)', a bare 'QFN' any QFN)."""
    return normalise_package(asked) == normalise_package(stored) or package_matches(asked, stored)


class PartsKind(RecordKind):
    name = "parts"
    # 2: display-only attributes that read as one value ("Zener voltage (nom)": "3.3V",
    #    "Tolerance": "±1%") are numeric attributes too
    # 3: toleranced values carry their tolerance window ("<key>@min" / "<key>@max" rows, for
    #    lookup's parametric windows); the summary shows the lifecycle ``status``
    version = 3
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
        "library_type", "stock", "price_usd", "description", "datasheet_url", "status",
    ]
    # '.' kept inside tokens so "4.7uf" or "3.3v" stay one token
    tokenizer = "porter unicode61 remove_diacritics 2 tokenchars '.'"
    filters = (
        Equals("category", "category", "the vendor's category, exactly (e.g. \"Resistors\")"),
        Equals("subcategory", "subcategory",
               "the vendor's subcategory, exactly (e.g. \"Chip Resistor - Surface Mount\")"),
        Equals("package", "package", "the package as the catalogue spells it (e.g. \"0402\")"),
        Equals("library_type", "library_type", "JLCPCB's assembly library", LIBRARY_TYPES),
        Equals("manufacturer", "manufacturer", "the manufacturer, exactly"),
        Positive("in_stock", "stock", "true: stock > 0; false: stock = 0"),
        AtLeast("stock_min", "stock", "at least this many in stock"),
        AtLeast("qty", "stock", "an order quantity: parts with at least this many in stock"),
        NumericRanges(),
    )
    # lookup: Preferred, then Basic, then the rest; most stocked first; then by id
    default_order = (
        SortKey("library_type", ranked=("Preferred", "Basic")),
        SortKey("stock", descending=True),
    )
    sortable = {
        "stock": "stock", "price_usd": "price_usd", "mpn": "mpn", "manufacturer": "manufacturer",
        "package": "package", "category": "category", "subcategory": "subcategory",
        "library_type": "library_type",
    }
    lookup_matchers = {"package": package_is}
    alternate_key = "mpn"

    def alternate_key_value(self, text: str) -> str:
        return " ".join(text.split()).upper()

    def ranker(self, collection: Collection) -> Ranker:
        return PartsRanker(collection)

    def display(self, summary: Mapping[str, Any]) -> str:
        return " | ".join(
            str(summary[k]) for k in ("mpn", "package", "description") if summary.get(k)
        )

    def fallback_queries(self, collection: Collection, n: int) -> list[str]:
        """What people type, from the collection's own parts: "<subcategory> <package>", a part
        number, the start of a description, in turn."""

        def query(i: int, s: Mapping[str, Any]) -> str:
            return [
                f"{s.get('subcategory') or s.get('category') or ''} {s.get('package') or ''}",
                str(s.get("mpn") or ""),
                " ".join(str(s.get("description") or s.get("subcategory") or "").split()[:6]),
            ][i % 3]

        return draw_queries(collection, n, query)

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
        if library_type not in LIBRARY_TYPES:
            raise RejectRecord(
                f"library_type {library_type!r} is not one of {sorted(LIBRARY_TYPES)}"
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
            numeric_rows.extend(_windows(numeric_rows, tol))
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
                "datasheet_url": raw.get("datasheet_url"), "status": optional_str(raw, "status"),
            },
            detail=detail,
            numeric=numeric_rows,
        )


def _windows(
    rows: list[tuple[str, str, str, float]], tolerance: str
) -> list[tuple[str, str, str, float]]:
    """The tolerance window of each toleranced value among ``rows`` (see grammar.py)."""
    out: list[tuple[str, str, str, float]] = []
    for attr, key, unit, value in rows:
        if attr not in TOLERANCED_ATTRIBUTES or unit not in TOLERANCED_UNITS:
            continue
        window = tolerance_window(tolerance, value, unit)
        if window is not None:
            out.append((attr, key + WINDOW_MIN, unit + WINDOW_MIN, window[0]))
            out.append((attr, key + WINDOW_MAX, unit + WINDOW_MAX, window[1]))
    return out
