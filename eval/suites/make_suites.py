"""Derive the committed query suites' ``expected`` ids from the parts data.

The query texts and the conditions that define each need are written by hand below, as data;
this script only evaluates them against the records and writes both suites, deterministically
(same data and same needs -> same bytes).

Re-run from the repository root after editing a need (or when the data changes):

    .venv/bin/python eval/suites/make_suites.py                  # 25k file at the default path
    .venv/bin/python eval/suites/make_suites.py PATH/parts.jsonl # 25k file elsewhere
    .venv/bin/python eval/suites/make_suites.py --check          # exit 1 if the files would change
    .venv/bin/python eval/suites/make_suites.py --report         # also print each need's count

Inputs: the bundled sample ``data/sample/parts-3k.jsonl.gz`` (fixed) and the 25,000-part file
(default ``../shared/data/jlcpcb_parts/parts.jsonl`` relative to the repository root).
Outputs: ``eval/suites/parts-sample.jsonl`` and ``eval/suites/parts-25k.jsonl``.

How a need becomes ``expected``: a record is expected when it satisfies ``where`` (written out as
the query's ``constraints``, checked with :func:`eval.compliance.record_satisfies`), at least one of
``any_of`` (alternatives, e.g. a colour found under either of two attribute names; not written
out), every ``text`` regex and not the ``exclude`` regex, both searched case-insensitively in
the part number, description, subcategory and display attribute values (for what no structured
field says, e.g. "AMS1117", or a channel type some vendors leave out of ``Type``). So every
expected part satisfies the written constraints. A "filtered" need's constraints are its filters
(translated: ``in_stock`` -> ``stock >= 1``, numeric ranges -> ``attributes_numeric`` bounds)
plus what its words ask for. "lcsc" needs expect their one id; "mpn" needs expect every part whose
``mfr_part`` equals the query exactly. Their ids were drawn once (one part per category, in
ascending ``sha1(salt + lcsc)`` order, plus a few well-known parts and part numbers listed by
several vendors) and are written out below.

Checks (the script stops, naming the need): constraints must be well formed and satisfied by at
least one record (kind "unsatisfiable": by none); every need must match at least one record; a
sample need must match at most 60, and a 25k need over 200 must carry constraints (its ids are
then left out).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from eval.compliance import record_satisfies  # noqa: E402
from eval.suite import load_suite, validate_constraints, validate_filters  # noqa: E402

SAMPLE_PATH = REPO / "data" / "sample" / "parts-3k.jsonl.gz"
DEFAULT_FULL_PATH = REPO.parent / "shared" / "data" / "jlcpcb_parts" / "parts.jsonl"
OUT_DIR = Path(__file__).resolve().parent
SAMPLE_OUT = OUT_DIR / "parts-sample.jsonl"
FULL_OUT = OUT_DIR / "parts-25k.jsonl"

SAMPLE_MAX_EXPECTED = 60
FULL_MAX_EXPECTED = 200

Where = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Need:
    """One query and the conditions that define its answer set."""

    id: str
    kind: str
    query: str
    where: Where = field(default_factory=dict)
    any_of: tuple[Where, ...] = ()
    text: str | tuple[str, ...] = ()  # regexes that must all match the record's text
    exclude: str | None = None  # regex that must not match the record's text
    filters: dict[str, Any] | None = None
    lcsc: str | None = None  # kind "lcsc": the one expected id
    mpn: bool = False  # kind "mpn": expected = every part whose mfr_part equals the query


# --- small builders -----------------------------------------------------------------------


def eq(value: str | float) -> dict[str, Any]:
    return {"eq": value}


def one_of(*values: str) -> dict[str, Any]:
    return {"in": list(values)}


def between(lo: float | None = None, hi: float | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if lo is not None:
        out["min"] = lo
    if hi is not None:
        out["max"] = hi
    return out


def num(attribute: str, key: str) -> str:
    return f"attributes_numeric.{attribute}.{key}"


def attr(attribute: str) -> str:
    return f"attributes.{attribute}"


def lcsc(part: str) -> Need:
    return Need(id=f"lcsc-{part}", kind="lcsc", query=part, lcsc=part)


def mpn(text: str) -> Need:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return Need(id=f"mpn-{slug}", kind="mpn", query=text, mpn=True)


def filtered(
    qid: str, query: str, filters: dict[str, Any], intent: Where | None = None, **kw: Any
) -> Need:
    """A query with explicit filters; its constraints are the filters plus the query's intent."""
    return Need(
        id=qid,
        kind="filtered",
        query=query,
        where={**(intent or {}), **filters_as_where(filters)},
        filters=filters,
        **kw,
    )


def filters_as_where(filters: Mapping[str, Any]) -> Where:
    where: Where = {}
    for key in ("category", "subcategory", "package", "library_type"):
        if key in filters:
            where[key] = eq(filters[key])
    lo = max(1 if filters.get("in_stock") else 0, filters.get("stock_min", 0))
    if lo:
        where["stock"] = between(lo)
    for item in filters.get("numeric", []):
        where[num(item["attribute"], item["key"])] = between(item.get("min"), item.get("max"))
    return where


# --- vocabulary: the catalogue's several spellings of one thing ---------------------------

CHIP_RES = {"subcategory": eq("Chip Resistor - Surface Mount")}
RES_ANY = {"subcategory": one_of("Chip Resistor - Surface Mount", "Through Hole Resistors")}
SHUNT = {
    "subcategory": one_of(
        "Current Sense Resistors/Shunt Resistors", "Current Sense Resistors / Shunt Resistors"
    )
}
SHUNT_OR_CHIP = {
    "subcategory": one_of(
        "Current Sense Resistors/Shunt Resistors",
        "Current Sense Resistors / Shunt Resistors",
        "Chip Resistor - Surface Mount",
    )
}
MLCC = {"subcategory": eq("Multilayer Ceramic Capacitors MLCC - SMD/SMT")}
ALU = {
    "subcategory": one_of(
        "Aluminum Electrolytic Capacitors - SMD", "Aluminum Electrolytic Capacitors - Leaded"
    )
}
ELECTROLYTIC = {
    "subcategory": one_of(
        "Aluminum Electrolytic Capacitors - SMD",
        "Aluminum Electrolytic Capacitors - Leaded",
        "Solid Polymer Electrolytic Capacitor",
        "Polymer Aluminum Capacitors",
        "Solid Capacitors",
    )
}
TANTALUM = {"subcategory": eq("Tantalum Capacitors")}
LDO = {
    "subcategory": one_of(
        "Linear Voltage Regulators (LDO)",
        "Voltage Regulators - Linear, Low Drop Out (LDO) Regulators",
        "Dropout Regulators(LDO)",  # the vendor's other names for the same parts
        "Low Dropout Regulators(LDO)",
    )
}
DCDC = {
    "subcategory": one_of("DC-DC Converters", "Voltage Regulators - DC DC Switching Regulators")
}
LED = {"subcategory": one_of("Light Emitting Diodes (LED)", "LED Indication - Discrete")}
MOSFET = {"subcategory": one_of("MOSFETs", "MOSFET")}
# the vendor files BJTs under three names; "Transistors (NPN/PNP)" holds plain NPN/PNP BJTs too
BJT = {"subcategory": one_of("Bipolar Transistors - BJT", "Bipolar (BJT)", "Transistors (NPN/PNP)")}
SCHOTTKY = {"subcategory": one_of("Schottky Diodes", "Schottky Barrier Diodes (SBD)")}
ZENER = {"subcategory": eq("Zener Diodes")}
SWITCHING_DIODE = {"subcategory": one_of("Switching Diode", "Switching Diodes")}
BRIDGE = {"subcategory": eq("Bridge Rectifiers")}
TVS_ESD = {
    "subcategory": one_of(
        "Electrostatic And Surge Protection (TVS/ESD)",
        "ESD And Surge Protection (TVS/ESD)",
        "TVS",
        "ESD Protection Devices",
    )
}
# quartz crystals, whether filed as "Crystals" or as SMD / DIP "Crystal Resonators"
CRYSTAL = {"subcategory": one_of("Crystals", "SMD Crystal Resonators", "DIP Crystal Resonators")}
FERRITE = {"subcategory": eq("Ferrite Beads")}
POWER_L = {"subcategory": eq("Power Inductors")}
INDUCTOR = {"subcategory": one_of("Power Inductors", "Inductors (SMD)")}
TACTILE = {"subcategory": eq("Tactile Switches")}
PIN_HEADER = {"subcategory": eq("Pin Headers")}
USB_CONN = {"subcategory": eq("USB Connectors")}
RS485 = {"subcategory": eq("RS-485/RS-422 ICs")}
EEPROM = {"subcategory": eq("EEPROM")}
PTC = {"subcategory": eq("Resettable Fuses")}
VREF = {"subcategory": one_of("Voltage References", "Voltage Reference")}
OPAMP = {
    "subcategory": one_of(
        "Operational Amplifier", "Precision OpAmps", "Low Power OpAmps", "FET InputAmplifiers"
    )
}
MCU = {
    "subcategory": one_of(
        "Microcontroller Units (MCUs/MPUs/SOCs)",
        "Microcontrollers (MCU/MPU/SOC)",
        "ST Microelectronics",
        "ATMEL & AVR",
        "MICROCHIP",
        "NXP MCU",
        "Other Processors and Microcontrollers (MCUs)",
    )
}

PKG_SOT23 = one_of(
    "SOT-23",
    "SOT-23-3",
    "SOT-23-3L",
    "SOT23-3",
    "SOT-23(TO-236)",
    "SOT-23(TO-236AB)",
    "SOT-23-3(TO-236-3)",
    "TO-236-3(SOT-23-3)",
)
PKG_SOT23_5 = one_of("SOT-23-5", "SOT-23-5L", "SOT23-5")
PKG_SOIC8 = one_of("SOIC-8", "SOP-8", "SO-8", "SOP8", "SOP-8L", "SOIC-8-150mil", "SOP-8-150mil")
PKG_SMA = one_of("SMA", "SMA(DO-214AC)", "DO-214AC(SMA)", "DO-214AC", "SMA,DO-214AC")
PKG_SMB = one_of(
    "SMB",
    "SMB(DO-214AA)",
    "DO-214AA(SMB)",
    "DO-214AA",
    "DO214AA(SMB)",
    "DO-214AA(SMBJ)",
    "SMBJ(DO-214AA)",
)
PKG_SOT223 = one_of("SOT-223", "SOT-223-3", "SOT-223-3L", "SOT-223-4")

R = num("Resistance", "resistance")
P = num("Power", "power")
C = num("Capacitance", "capacitance")
V = num("Allowable voltage", "voltage")
L = num("Inductance", "inductance")
I_RATED = num("Rated current", "current")
VOUT = num("Output voltage", "voltage")
IOUT = num("Output current", "current")
VR = num("Voltage - dc reverse (vr) (max)", "voltage")
Z_BEAD = num("Impedance @ frequency", "esr")

N_CH = r"\bN[- ]?channel|PCSN"  # channel type, in Type or (when Type is empty) the description
P_CH = r"\bP[- ]?channel|PCSP"
X7R = one_of("X7R")
C0G = one_of("C0G", "NP0", "C0G, NP0")


USB_UART = (
    r"USB.{0,3}(to|-).{0,3}(UART|serial|RS232|TTL)|\bCH34[0-3]|\bCP210[0-9]|"
    r"\bFT23[0-2]|\bPL2303|\bCH910[0-2]"
)
# modules are boards, not chips; the catalogue also tags some USB host / OTG / peripheral
# controllers "USB to UART", which are not bridges
NOT_USB_UART = r"conversion modules|^(CH376|STOTG04|CYUSB30)"


def colour(name: str) -> tuple[Where, ...]:
    """LED colour: given as "Illumination color" or "Emitted color" depending on the vendor."""
    return ({attr("Illumination color"): eq(name)}, {attr("Emitted color"): eq(name)})


GREEN = (*colour("Green"), *colour("Emerald Green"), *colour("Yellow Green"), *colour("Emerald"))


# --- the bundled-sample suite -------------------------------------------------------------

SAMPLE_NEEDS: list[Need] = [
    *map(
        lcsc,
        [
            "C25744",
            "C6186",
            "C8734",
            "C2175869",
            "C454004",
            "C7551107",
            "C19077455",
            "C1051",
            "C3718308",
            "C3230293",
            "C20069131",
            "C133352",
            "C49023017",
            "C141969",
            "C5274779",
        ],
    ),
    *map(
        mpn,
        [
            "BC847C",
            "0603WAF220JT5E",
            "PSPMAA0603-1R5M-ANF",
            "PIC16F1783-E/MV",
            "1SMA4729A",
            "H15VNT2B",
            "LTC2873HUFD#PBF",
            "CL10B221KB8NNNC",
            "TLV70450DBVT",
            "MTP220-1203R1",
            "TMR 3-4811WISM",
            "AQV258HAXC88",
            "SMAJ5.0A",
            "LM317LCD",
            "1N4148WS",
            "BC807-40",
        ],
    ),
    Need(
        "res-10k-0402-1pct",
        "parametric",
        "10k 0402 resistor 1%",
        {**CHIP_RES, "package": eq("0402"), R: eq(10e3), attr("Tolerance"): eq("±1%")},
    ),
    Need(
        "res-4k7-0603",
        "parametric",
        "4.7k 0603 resistor",
        {**CHIP_RES, "package": eq("0603"), R: eq(4.7e3)},
    ),
    Need(
        "res-1k-0805",
        "parametric",
        "1k 0805 resistor",
        {**CHIP_RES, "package": eq("0805"), R: eq(1e3)},
    ),
    Need("res-100k", "parametric", "100k resistor", {**RES_ANY, R: eq(100e3)}),
    Need("res-5k1", "parametric", "5.1k resistor", {**RES_ANY, R: eq(5.1e3)}),
    Need("res-330r", "parametric", "330 ohm resistor", {**RES_ANY, R: eq(330)}),
    Need("res-0r", "natural", "0 ohm jumper resistor", {**RES_ANY, R: eq(0)}),
    Need(
        "res-1206-quarter-watt",
        "parametric",
        "1206 resistor 1/4W",
        {**CHIP_RES, "package": eq("1206"), P: between(0.25)},
    ),
    Need(
        "shunt-2512",
        "parametric",
        "current sense resistor 2512",
        {**SHUNT_OR_CHIP, "package": eq("2512")},
        text=r"current sense|shunt",
    ),
    Need(
        "cap-100n-0603-50v-x7r",
        "parametric",
        "100nF 0603 capacitor 50V X7R",
        {
            **MLCC,
            "package": eq("0603"),
            C: eq(100e-9),
            V: between(50),
            attr("Temperature coefficient"): X7R,
        },
    ),
    Need(
        "cap-1u-0402",
        "parametric",
        "1uF 0402 capacitor",
        {**MLCC, "package": eq("0402"), C: eq(1e-6)},
    ),
    Need(
        "cap-10u-0805-25v",
        "parametric",
        "10uF 0805 capacitor 25V",
        {**MLCC, "package": eq("0805"), C: eq(10e-6), V: between(25)},
    ),
    Need(
        "cap-22p-c0g",
        "parametric",
        "22pF capacitor C0G",
        {**MLCC, C: eq(22e-12), attr("Temperature coefficient"): C0G},
    ),
    Need("cap-4u7-ceramic", "parametric", "4.7uF ceramic capacitor", {**MLCC, C: eq(4.7e-6)}),
    Need(
        "cap-100u-electrolytic",
        "parametric",
        "100uF electrolytic capacitor",
        {**ELECTROLYTIC, C: eq(100e-6)},
    ),
    Need("tantalum", "natural", "tantalum capacitor", TANTALUM),
    Need("ams1117-3v3", "parametric", "AMS1117 3.3V LDO", {**LDO, VOUT: eq(3.3)}, text=r"AMS1117"),
    Need("ldo-3v3", "parametric", "3.3V LDO regulator", {**LDO, VOUT: eq(3.3)}),
    Need("ldo-sot23-5", "parametric", "LDO SOT-23-5", {**LDO, "package": PKG_SOT23_5}),
    Need(
        "led-red-0603",
        "parametric",
        "red LED 0603",
        {**LED, "package": eq("0603")},
        any_of=colour("Red"),
    ),
    Need(
        "led-red-0805",
        "parametric",
        "red LED 0805",
        {**LED, "package": eq("0805")},
        any_of=colour("Red"),
    ),
    Need(
        "nmos-sot23",
        "parametric",
        "N-channel MOSFET SOT-23",
        {**MOSFET, "package": PKG_SOT23},
        text=N_CH,
        exclude=P_CH,
    ),
    Need("pmos", "parametric", "P-channel MOSFET", MOSFET, text=P_CH, exclude=N_CH),
    Need("xtal-8m", "parametric", "crystal 8MHz", {**CRYSTAL, attr("Frequency"): eq("8MHz")}),
    Need(
        "xtal-32k768",
        "parametric",
        "32.768kHz crystal",
        {**CRYSTAL, attr("Frequency"): eq("32.768kHz")},
    ),
    Need("schottky-sma", "parametric", "schottky diode SMA", {**SCHOTTKY, "package": PKG_SMA}),
    Need(
        "zener-5v1-sod123",
        "parametric",
        "zener diode 5.1V SOD-123",
        {**ZENER, attr("Zener voltage (nom)"): eq("5.1V"), "package": eq("SOD-123")},
    ),
    Need(
        "npn-sot23",
        "parametric",
        "NPN transistor SOT-23",
        {**BJT, attr("Type"): eq("NPN"), "package": PKG_SOT23},
    ),
    Need("1n4148", "natural", "1N4148 switching diode", SWITCHING_DIODE, text=r"1N4148"),
    Need("ferrite-0603", "parametric", "ferrite bead 0603", {**FERRITE, "package": eq("0603")}),
    Need("inductor-10u", "parametric", "10uH inductor", {**INDUCTOR, L: eq(10e-6)}),
    Need(
        "tvs-bidir-smb",
        "parametric",
        "bidirectional TVS diode SMB",
        {**TVS_ESD, "package": PKG_SMB, attr("Polarity"): eq("Bidirectional")},
    ),
    Need("bridge-rectifier", "natural", "bridge rectifier", BRIDGE),
    Need("tactile-switch", "natural", "tactile switch", TACTILE),
    Need(
        "usb-a",
        "parametric",
        "USB type A connector",
        {**USB_CONN, attr("Connector type"): eq("Type-A")},
    ),
    Need(
        "header-2.54",
        "parametric",
        "pin header 2.54mm",
        {**PIN_HEADER, attr("Pitch"): eq("2.54mm")},
    ),
    Need(
        "stm32-lqfp48",
        "natural",
        "STM32 microcontroller LQFP-48",
        {**MCU, "package": eq("LQFP-48(7x7)")},
        text=r"^STM32",
    ),
    Need("eeprom-i2c", "natural", "I2C EEPROM", text=(r"EEPROM", r"\bI2C\b|\bIIC\b|2-wire")),
    Need("rs485", "natural", "RS485 transceiver", RS485, text=r"transceiver"),
    Need("opamp-soic8", "parametric", "op amp SOIC-8", {**OPAMP, "package": PKG_SOIC8}),
    Need(
        "buck-3a",
        "parametric",
        "buck converter 3A",
        {**DCDC, attr("Topology"): eq("Buck"), IOUT: between(3)},
    ),
    Need("timer-555", "natural", "555 timer", {}, text=r"NE555|\b555 Timers"),
    Need("usb-uart", "natural", "USB to UART bridge", text=USB_UART, exclude=NOT_USB_UART),
    Need(
        "li-charger",
        "natural",
        "lithium battery charger IC",
        text=(r"charging IC", r"lithium|li-ion|LiFePO4|li-po"),
    ),
    Need("tl431", "natural", "TL431 voltage reference", VREF, text=r"^TL431"),
    Need("ptc-fuse", "natural", "resettable fuse", PTC),
    Need(
        "spi-flash", "natural", "SPI NOR flash", {"subcategory": eq("NOR FLASH")}, text=r"\bSPI\b"
    ),
]

# --- the 25k suite ------------------------------------------------------------------------

FULL_NEEDS: list[Need] = [
    *map(
        lcsc,
        [
            "C475237",
            "C661172",
            "C5265695",
            "C4989482",
            "C527213",
            "C187821",
            "C726942",
            "C524744",
            "C1331041",
            "C5118063",
            "C2878970",
            "C462645",
            "C5211134",
            "C20755437",
            "C2944227",
            "C7299102",
            "C6705330",
            "C304244",
            "C631391",
            "C5246448",
            "C7078037",
            "C19191551",
            "C48935862",
            "C7470199",
            "C2983798",
            "C25744",
            "C8734",
        ],
    ),
    *map(
        mpn,
        [
            "DCF471K30Y5PQ6VK7A0",
            "BAS21",
            "OPA227UA",
            "MAKK2016T2R2M",
            "348240206",
            "AC0402FR-07140KL",
            "BDCN-20-13+",
            "IS66WV51216EBLL-55TLI",
            "1.5SMC68A/TR7",
            "TMP75CIDR",
            "SN74HC175N(XBLW)",
            "CBM812MST4",
            "NVTR4502P",
            "2SC4617R",
            "TPU2013S5",
            "FUET-1030H",
            "UDD32C03L01",
            "KSZ8081MNXIA",
            "LT3094IDD#PBF",
            "LAN8742AI-CZ",
            "AD5760BCPZ-REEL7",
            "NC7SZ14M5X",
            "HVLED101TR",
            "AP431IBNTR-G1",
            "LTC6994HS6-2#TRMPBF",
            "SS34",
            "1N4148WS",
            "SMAJ10CA",
            "BZT52C7V5",
        ],
    ),
    # parametric: the whole need is in the query text; constraints say what complies
    Need(
        "p-cap-4u7-0805-25v",
        "parametric",
        "4.7uF 0805 capacitor 25V",
        {**MLCC, "package": eq("0805"), C: eq(4.7e-6), V: between(25)},
    ),
    Need(
        "p-res-1k-0603",
        "parametric",
        "1k 0603 resistor",
        {**CHIP_RES, "package": eq("0603"), R: eq(1e3)},
    ),
    Need(
        "p-ldo-3v3-sot23-5",
        "parametric",
        "3.3V LDO SOT-23-5",
        {**LDO, "package": PKG_SOT23_5, VOUT: eq(3.3)},
    ),
    Need(
        "p-ind-10u-1a",
        "parametric",
        "10uH inductor 1A",
        {**INDUCTOR, L: eq(10e-6), I_RATED: between(1)},
    ),
    Need(
        "p-res-10k-0402-1pct",
        "parametric",
        "10k 0402 resistor 1%",
        {**CHIP_RES, "package": eq("0402"), R: eq(10e3), attr("Tolerance"): eq("±1%")},
    ),
    Need(
        "p-cap-100n-0402",
        "parametric",
        "100nF 0402 capacitor",
        {**MLCC, "package": eq("0402"), C: eq(100e-9)},
    ),
    Need(
        "p-cap-100n-0603-50v-x7r",
        "parametric",
        "100nF 0603 capacitor 50V X7R",
        {
            **MLCC,
            "package": eq("0603"),
            C: eq(100e-9),
            V: between(50),
            attr("Temperature coefficient"): X7R,
        },
    ),
    Need(
        "p-cap-22u-1206",
        "parametric",
        "22uF 1206 capacitor",
        {**MLCC, "package": eq("1206"), C: eq(22e-6)},
    ),
    Need(
        "p-cap-1u-0603-25v",
        "parametric",
        "1uF 0603 capacitor 25V",
        {**MLCC, "package": eq("0603"), C: eq(1e-6), V: between(25)},
    ),
    Need(
        "p-cap-10p-0402-c0g",
        "parametric",
        "10pF 0402 C0G capacitor",
        {**MLCC, "package": eq("0402"), C: eq(10e-12), attr("Temperature coefficient"): C0G},
    ),
    Need(
        "p-res-47k-0603",
        "parametric",
        "47k 0603 resistor",
        {**CHIP_RES, "package": eq("0603"), R: eq(47e3)},
    ),
    Need(
        "p-shunt-0r1-2512",
        "parametric",
        "0.1 ohm 2512 current sense resistor",
        {**SHUNT_OR_CHIP, "package": eq("2512"), R: eq(0.1)},
    ),
    Need(
        "p-res-5k1-0402",
        "parametric",
        "5.1k 0402 resistor",
        {**CHIP_RES, "package": eq("0402"), R: eq(5.1e3)},
    ),
    Need(
        "p-res-2k2-0805",
        "parametric",
        "2.2k 0805 resistor",
        {**CHIP_RES, "package": eq("0805"), R: eq(2.2e3)},
    ),
    Need(
        "p-res-100r-0603",
        "parametric",
        "100 ohm 0603 resistor",
        {**CHIP_RES, "package": eq("0603"), R: eq(100)},
    ),
    Need(
        "p-res-1m-0603",
        "parametric",
        "1M 0603 resistor",
        {**CHIP_RES, "package": eq("0603"), R: eq(1e6)},
    ),
    Need(
        "p-res-0r-0805",
        "parametric",
        "0 ohm 0805 resistor",
        {**CHIP_RES, "package": eq("0805"), R: eq(0)},
    ),
    Need(
        "p-res-2512-1w",
        "parametric",
        "2512 resistor 1W",
        {**CHIP_RES, "package": eq("2512"), P: between(1)},
    ),
    Need(
        "p-alu-470u-16v",
        "parametric",
        "470uF 16V electrolytic capacitor",
        {**ELECTROLYTIC, C: eq(470e-6), V: between(16)},
    ),
    Need(
        "p-alu-10u-50v",
        "parametric",
        "10uF 50V electrolytic capacitor",
        {**ELECTROLYTIC, C: eq(10e-6), V: between(50)},
    ),
    Need("p-tant-100u", "parametric", "100uF tantalum capacitor", {**TANTALUM, C: eq(100e-6)}),
    Need(
        "p-ldo-5v-sot89",
        "parametric",
        "5V LDO SOT-89",
        {**LDO, "package": one_of("SOT-89", "SOT-89-3", "SOT-89-3L", "SOT89"), VOUT: eq(5)},
    ),
    Need("p-ldo-1v8", "parametric", "1.8V LDO", {**LDO, VOUT: eq(1.8)}),
    Need(
        "p-ldo-3v3-500ma",
        "parametric",
        "3.3V LDO 500mA",
        {**LDO, VOUT: eq(3.3), IOUT: between(0.5)},
    ),
    Need(
        "p-pmos-so8",
        "parametric",
        "P-channel MOSFET SOP-8",
        {**MOSFET, "package": PKG_SOIC8},
        text=P_CH,
        exclude=N_CH,
    ),
    Need(
        "p-nmos-30v-sot23",
        "parametric",
        "N-channel MOSFET 30V SOT-23",
        {**MOSFET, "package": PKG_SOT23, attr("Drain to source voltage"): eq("30V")},
        text=N_CH,
        exclude=P_CH,
    ),
    Need(
        "p-npn-sot23",
        "parametric",
        "NPN transistor SOT-23",
        {**BJT, "package": PKG_SOT23, attr("Type"): eq("NPN")},
    ),
    Need(
        "p-pnp-sot23",
        "parametric",
        "PNP transistor SOT-23",
        {**BJT, "package": PKG_SOT23, attr("Type"): eq("PNP")},
    ),
    Need(
        "p-schottky-sod123-40v",
        "parametric",
        "schottky diode SOD-123 40V",
        {**SCHOTTKY, "package": eq("SOD-123"), VR: between(40)},
    ),
    Need(
        "p-schottky-3a-sma",
        "parametric",
        "3A schottky diode SMA",
        {**SCHOTTKY, "package": PKG_SMA, attr("Rectified current"): eq("3A")},
    ),
    Need(
        "p-zener-3v3-sod323",
        "parametric",
        "zener diode 3.3V SOD-323",
        {**ZENER, "package": eq("SOD-323"), attr("Zener voltage (nom)"): eq("3.3V")},
    ),
    Need(
        "p-zener-12v-sod123",
        "parametric",
        "12V zener SOD-123",
        {**ZENER, "package": eq("SOD-123"), attr("Zener voltage (nom)"): eq("12V")},
    ),
    Need(
        "p-xtal-16m-3225",
        "parametric",
        "16MHz crystal 3225",
        {**CRYSTAL, "package": eq("SMD3225-4P"), attr("Frequency"): eq("16MHz")},
    ),
    Need("p-xtal-25m", "parametric", "crystal 25MHz", {**CRYSTAL, attr("Frequency"): eq("25MHz")}),
    Need(
        "p-xtal-32k768",
        "parametric",
        "32.768kHz crystal",
        {**CRYSTAL, attr("Frequency"): eq("32.768kHz")},
    ),
    Need(
        "p-xtal-8m-hc49",
        "parametric",
        "8MHz crystal HC-49S",
        {**CRYSTAL, "package": one_of("HC-49S", "HC-49S-2P"), attr("Frequency"): eq("8MHz")},
    ),
    Need(
        "p-bead-600r-0603",
        "parametric",
        "ferrite bead 600 ohm 0603",
        {**FERRITE, "package": eq("0603"), Z_BEAD: eq(600)},
    ),
    Need(
        "p-bead-120r-0805",
        "parametric",
        "120 ohm ferrite bead 0805",
        {**FERRITE, "package": eq("0805"), Z_BEAD: eq(120)},
    ),
    Need(
        "p-led-red-0603",
        "parametric",
        "red LED 0603",
        {**LED, "package": eq("0603")},
        any_of=colour("Red"),
    ),
    Need(
        "p-led-green-0805",
        "parametric",
        "green LED 0805",
        {**LED, "package": eq("0805")},
        any_of=GREEN,
    ),
    Need(
        "p-led-blue-0603",
        "parametric",
        "blue LED 0603",
        {**LED, "package": eq("0603")},
        any_of=colour("Blue"),
    ),
    Need(
        "p-usb-c-16p",
        "parametric",
        "USB type C connector 16 pin",
        {**USB_CONN, attr("Connector type"): eq("Type-C"), attr("Number of contacts"): eq("16P")},
    ),
    Need(
        "p-usb-micro-b",
        "parametric",
        "micro USB connector",
        {**USB_CONN, attr("Connector type"): eq("Micro-B")},
    ),
    Need(
        "p-header-2x5-2.54",
        "parametric",
        "2x5 pin header 2.54mm",
        {**PIN_HEADER, attr("Pitch"): eq("2.54mm"), attr("Pin structure"): eq("2x5P")},
    ),
    Need(
        "p-tvs-5v-sod323",
        "parametric",
        "5V TVS diode SOD-323",
        {**TVS_ESD, "package": eq("SOD-323"), attr("Reverse stand-off voltage (vrwm)"): eq("5V")},
    ),
    Need(
        "p-tvs-24v-sma",
        "parametric",
        "24V TVS diode SMA",
        {**TVS_ESD, "package": PKG_SMA, attr("Reverse stand-off voltage (vrwm)"): eq("24V")},
    ),
    Need(
        "p-buck-3a",
        "parametric",
        "buck converter 3A",
        {**DCDC, attr("Topology"): eq("Buck"), IOUT: between(3)},
    ),
    Need(
        "p-power-ind-10u-3a",
        "parametric",
        "10uH power inductor 3A",
        {**POWER_L, L: eq(10e-6), I_RATED: between(3)},
    ),
    Need(
        "p-ind-4u7-2a",
        "parametric",
        "4.7uH inductor 2A",
        {**INDUCTOR, L: eq(4.7e-6), I_RATED: between(2)},
    ),
    Need(
        "p-cap-1u-0402-10v",
        "parametric",
        "1uF 0402 capacitor 10V",
        {**MLCC, "package": eq("0402"), C: eq(1e-6), V: between(10)},
    ),
    Need("p-opamp-sot23-5", "parametric", "op amp SOT-23-5", {**OPAMP, "package": PKG_SOT23_5}),
    # filtered: the caller passes ``filters``; constraints = filters + what the words ask for
    filtered(
        "f-res-0402-basic",
        "resistor",
        {"package": "0402", "library_type": "Basic"},
        {"category": eq("Resistors")},
    ),
    filtered(
        "f-cap-100n-0603",
        "capacitor",
        {
            "category": "Capacitors",
            "package": "0603",
            "numeric": [
                {"attribute": "Capacitance", "key": "capacitance", "min": 90e-9, "max": 110e-9}
            ],
        },
    ),
    filtered("f-res-10k-0603", "10k resistor", {"package": "0603"}, {**CHIP_RES, R: eq(10e3)}),
    filtered(
        "f-mosfet-sot23-basic", "MOSFET", {"package": "SOT-23", "library_type": "Basic"}, MOSFET
    ),
    filtered(
        "f-ldo-sot23-5-stock", "LDO regulator", {"package": "SOT-23-5", "in_stock": True}, LDO
    ),
    filtered("f-schottky-basic", "schottky diode", {"library_type": "Basic"}, SCHOTTKY),
    filtered("f-xtal-3225-stock", "crystal", {"package": "SMD3225-4P", "in_stock": True}, CRYSTAL),
    filtered("f-led-0805-basic", "LED", {"package": "0805", "library_type": "Basic"}, LED),
    filtered(
        "f-cap-10u-0805-basic",
        "capacitor 10uF",
        {"package": "0805", "library_type": "Basic"},
        {"category": eq("Capacitors"), C: eq(10e-6)},
    ),
    filtered(
        "f-ind-10u",
        "inductor",
        {
            "numeric": [
                {"attribute": "Inductance", "key": "inductance", "min": 9.5e-6, "max": 10.5e-6}
            ]
        },
        INDUCTOR,
    ),
    filtered(
        "f-zener-sod123-preferred",
        "zener diode",
        {"package": "SOD-123", "library_type": "Preferred"},
        ZENER,
    ),
    filtered("f-usb-conn-stock1000", "USB connector", {"stock_min": 1000}, USB_CONN),
    filtered(
        "f-res-1k-10k-0603-basic",
        "resistor",
        {
            "package": "0603",
            "library_type": "Basic",
            "numeric": [{"attribute": "Resistance", "key": "resistance", "min": 1e3, "max": 10e3}],
        },
        {"category": eq("Resistors")},
    ),
    filtered(
        "f-electrolytic-50v-stock",
        "electrolytic capacitor",
        {
            "in_stock": True,
            "numeric": [{"attribute": "Allowable voltage", "key": "voltage", "min": 50}],
        },
        ELECTROLYTIC,
    ),
    filtered("f-tvs-sod323", "TVS diode", {"package": "SOD-323"}, TVS_ESD),
    filtered("f-opamp-soic8", "op amp", {"package": "SOIC-8"}, OPAMP),
    filtered("f-mcu-preferred", "microcontroller", {"library_type": "Preferred"}, MCU),
    filtered("f-bead-0402", "ferrite bead", {"package": "0402"}, FERRITE),
    filtered("f-tactile-stock10k", "tactile switch", {"stock_min": 10000}, TACTILE),
    filtered(
        "f-npn-bjt-sot23",
        "NPN transistor",
        {"subcategory": "Bipolar Transistors - BJT", "package": "SOT-23"},
        {attr("Type"): eq("NPN")},
    ),
    filtered(
        "f-power-ind-3a",
        "power inductor",
        {"numeric": [{"attribute": "Rated current", "key": "current", "min": 3}]},
        POWER_L,
    ),
    filtered(
        "f-cap-1206-100v",
        "capacitor",
        {
            "category": "Capacitors",
            "package": "1206",
            "numeric": [{"attribute": "Allowable voltage", "key": "voltage", "min": 100}],
        },
    ),
    filtered("f-diode-basic", "diode", {"category": "Diodes", "library_type": "Basic"}),
    filtered(
        "f-buck-extended-stock",
        "buck converter",
        {"library_type": "Extended", "in_stock": True},
        {**DCDC, attr("Topology"): eq("Buck")},
    ),
    filtered(
        "f-female-header-stock",
        "female header",
        {"subcategory": "Female Headers", "in_stock": True},
    ),
    filtered("f-oscillator", "oscillator", {"subcategory": "Oscillators"}),
    filtered("f-rs485-stock", "RS485 transceiver", {"in_stock": True}, RS485, text=r"transceiver"),
    filtered(
        "f-ldo-3v3-basic",
        "LDO",
        {
            "library_type": "Basic",
            "numeric": [
                {"attribute": "Output voltage", "key": "voltage", "min": 3.25, "max": 3.35}
            ],
        },
        LDO,
    ),
    # natural: what an engineer types; expected from subcategory and text where both are needed
    Need("n-usb-uart", "natural", "usb to uart bridge chip", text=USB_UART, exclude=NOT_USB_UART),
    Need(
        "n-buck-3v3",
        "natural",
        "3.3v buck converter",
        {**DCDC, attr("Topology"): eq("Buck"), VOUT: eq(3.3)},
    ),
    Need(
        "n-temp-sensor-i2c",
        "natural",
        "temperature sensor i2c",
        {"subcategory": eq("Temperature Sensors")},
        text=r"I2C|IIC|SMBus|2-wire",
    ),
    Need(
        "n-rgb-addressable",
        "natural",
        "rgb led addressable",
        text=(r"RGB", r"built-in IC|WS28|SK68|SK98|addressable"),
    ),
    Need("n-wifi-module", "natural", "wifi module", {"subcategory": eq("WiFi Modules")}),
    Need(
        "n-bluetooth-module",
        "natural",
        "bluetooth module",
        {"subcategory": eq("Bluetooth Modules")},
    ),
    Need(
        "n-li-charger",
        "natural",
        "lithium battery charger ic",
        text=(r"charging IC", r"lithium|li-ion|LiFePO4|li-po"),
    ),
    Need(
        "n-rtc",
        "natural",
        "real time clock chip",
        {
            "subcategory": one_of(
                "Real-time Clocks (RTC)",
                "Real-Time Clocks(RTC)",
                "Real-Time Clocks (RTC)",
                "Real Time Clocks",
                "Real-time Clocks",
            )
        },
    ),
    Need(
        "n-can-transceiver",
        "natural",
        "CAN bus transceiver",
        {
            "subcategory": one_of(
                "CAN ICs",
                "CAN Transceivers",
                "Isolated CAN Transceivers",
                "Isolated CAN Transceivers (With Power)",
            )
        },
        text=r"transceiver",
    ),
    Need(
        "n-ethernet-phy",
        "natural",
        "ethernet phy",
        {"subcategory": one_of("Ethernet ICs", "Ethernet Transceivers")},
        text=r"\bPHY\b|BASE-T",
        # PoE controllers, LIN, MACs and multi-port switches share the subcategories
        exclude=r"PoE|Power Over Ethernet|LIN Transceiver|Ethernet Controller|"
        r"^(KSZ8995|KSZ8895|KSZ8863|RTL8367)",
    ),
    Need(
        "n-spi-flash",
        "natural",
        "SPI flash memory",
        {"subcategory": eq("NOR FLASH")},
        text=r"\bSPI\b",
    ),
    Need("n-i2c-eeprom", "natural", "I2C EEPROM", text=(r"EEPROM", r"\bI2C\b|\bIIC\b|2-wire")),
    Need(
        "n-optocoupler",
        "natural",
        "optocoupler transistor output",
        {
            "subcategory": one_of(
                "Optocouplers - Phototransistor Output",
                "Transistor, Photovoltaic Output Optoisolators",
                "Transistor Output Optocoupler",
            )
        },
    ),
    Need("n-buzzer", "natural", "buzzer", {"subcategory": one_of("Buzzers", "Buzzer")}),
    Need(
        "n-hall-sensor",
        "natural",
        "hall effect sensor",
        {"subcategory": one_of("Hall Sensor", "Hall Switches", "Linear Hall Sensors")},
    ),
    Need(
        "n-level-shifter",
        "natural",
        "logic level shifter",
        {
            "subcategory": one_of(
                "Translators / Level Shifters",
                "Level Translators,  Shifters",
                "Translators, Level Shifters",
            )
        },
    ),
    Need(
        "n-gate-driver",
        "natural",
        "mosfet gate driver",
        {
            "subcategory": one_of(
                "Gate Drive ICs",
                "Gate Drivers",
                "Isolated Gate Drivers",
                "Isolators - Gate Drivers",
            )
        },
    ),
    Need(
        "n-accelerometer",
        "natural",
        "accelerometer",
        {
            "subcategory": one_of(
                "Attitude Sensors",
                "Motion Sensors - Accelerometers",
                "Accelerometers",
                "Attitude Sensor/Gyroscope",
            )
        },
        text=r"acceler|axis|6-DOF|IMU",
    ),
    Need(
        "n-microsd-socket",
        "natural",
        "micro SD card socket",
        {
            "subcategory": one_of(
                "SD Card Connectors", "SD Card / Memory Card Connector", "Card Sockets Connectors"
            )
        },
        text=r"micro ?SD|TF",
    ),
    Need(
        "n-rj45",
        "natural",
        "RJ45 ethernet jack",
        {
            "subcategory": one_of(
                "Ethernet Connectors/Modular Connectors (RJ45 RJ11)",
                "Ethernet Connectors / Modular Connectors (RJ45 RJ11)",
            ),
            attr("Connector type"): eq("RJ45 Jack"),
        },
    ),
    Need(
        "n-digital-isolator",
        "natural",
        "digital isolator",
        {
            "subcategory": one_of(
                "Digital Isolators",
                "Digital Isolators With Power",
                "Digital Isolators With Iso-Power",
                "Digital Isolators (With Power)",
                "I2C Isolators",
            )
        },
    ),
    Need(
        "n-reset-supervisor",
        "natural",
        "voltage supervisor reset IC",
        {
            "subcategory": one_of(
                "Monitors & Reset Circuits",
                "Supervisor And Reset ICs",
                "Microprocessor & Microcontroller Supervisors",
            )
        },
    ),
    Need(
        "n-load-switch",
        "natural",
        "high side load switch",
        {
            "subcategory": one_of(
                "Power Distribution Switches", "PMIC - Power Distribution Switches"
            )
        },
        text=r"high side|load switch",
    ),
    Need("n-555-timer", "natural", "555 timer", text=r"\b\w*555\w*\b.*555 Timers|NE555"),
    Need("n-lora-module", "natural", "LoRa module", {"subcategory": eq("LoRa Modules")}),
    Need(
        "n-dc-jack",
        "natural",
        "DC barrel jack power connector",
        {
            "subcategory": one_of(
                "DC Power Connectors", "DC Power Connector", "AC/DC Power Connectors"
            ),
            attr("Connector type"): eq("DC Power Jack"),
        },
    ),
    Need(
        "n-brushed-motor-driver",
        "natural",
        "brushed DC motor driver",
        {"subcategory": one_of("Motor Driver ICs", "Brushed DC Motor Drivers", "Motor Drivers")},
        text=r"brushed DC",
        exclude=r"brushless|stepper",
    ),
    # misspelled / sloppy typing: the need of the corrected text
    Need(
        "m-resistr-10k-0603",
        "misspelled",
        "resistr 10k 0603",
        {**CHIP_RES, "package": eq("0603"), R: eq(10e3)},
    ),
    Need("m-capacitr-100n", "misspelled", "capacitr 100n", {**MLCC, C: eq(100e-9)}),
    Need(
        "m-mosfett-n-sot23",
        "misspelled",
        "mosfett n channel sot23",
        {**MOSFET, "package": PKG_SOT23},
        text=N_CH,
        exclude=P_CH,
    ),
    Need("m-shottky-sma", "misspelled", "shottky diode sma", {**SCHOTTKY, "package": PKG_SMA}),
    Need(
        "m-zenner-5v1",
        "misspelled",
        "zenner diode 5.1v",
        {**ZENER, attr("Zener voltage (nom)"): eq("5.1V")},
    ),
    Need("m-inducter-10uh", "misspelled", "inducter 10uh", {**INDUCTOR, L: eq(10e-6)}),
    Need(
        "m-cristal-16mhz",
        "misspelled",
        "cristal 16mhz",
        {**CRYSTAL, attr("Frequency"): eq("16MHz")},
    ),
    Need("m-ldo-regulater-3v3", "misspelled", "ldo regulater 3.3v", {**LDO, VOUT: eq(3.3)}),
    Need(
        "m-electrolitic-100uf",
        "misspelled",
        "electrolitic capacitor 100uf",
        {**ELECTROLYTIC, C: eq(100e-6)},
    ),
    Need(
        "m-tactle-switch-smd",
        "misspelled",
        "tactle switch smd",
        {
            **TACTILE,
            attr("Mounting type"): one_of(
                "Surface Mount", "Surface Mount,Vertical", "Surface Mount, Right Angle"
            ),
        },
    ),
    Need(
        "m-feritte-bead-0603", "misspelled", "feritte bead 0603", {**FERRITE, "package": eq("0603")}
    ),
    Need(
        "m-transister-npn-sot23",
        "misspelled",
        "transister npn sot23",
        {**BJT, "package": PKG_SOT23, attr("Type"): eq("NPN")},
    ),
    Need(
        "m-optocupler",
        "misspelled",
        "optocupler",
        {
            "subcategory": one_of(
                "Optocouplers - Phototransistor Output",
                "Transistor, Photovoltaic Output Optoisolators",
                "Transistor Output Optocoupler",
                "Optocouplers - Logic Output",
                "Logic Output Optocoupler",
                "Logic Output Optoisolators",
                "Optocouplers",
            )
        },
    ),
    Need(
        "m-usb-c-conector",
        "misspelled",
        "usb type c conector",
        {**USB_CONN, attr("Connector type"): eq("Type-C")},
    ),
    Need(
        "m-ressistor-1k-0805",
        "misspelled",
        "ressistor 1k 0805",
        {**CHIP_RES, "package": eq("0805"), R: eq(1e3)},
    ),
    Need(
        "m-capaciter-10uf-0805",
        "misspelled",
        "capaciter 10uf 0805",
        {**MLCC, "package": eq("0805"), C: eq(10e-6)},
    ),
    Need("m-bridge-rectifer", "misspelled", "bridge rectifer", BRIDGE),
    # unsatisfiable on purpose: compliance must report these apart, not score them 0
    Need(
        "u-res-10k-0402-5w",
        "unsatisfiable",
        "10k 0402 resistor 5W",
        {**CHIP_RES, "package": eq("0402"), R: eq(10e3), P: between(5)},
    ),
    Need(
        "u-cap-1f-0402",
        "unsatisfiable",
        "1F 0402 ceramic capacitor",
        {**MLCC, "package": eq("0402"), C: eq(1.0)},
    ),
    Need(
        "u-ldo-3v3-10a-sot23",
        "unsatisfiable",
        "3.3V LDO 10A SOT-23",
        {**LDO, "package": PKG_SOT23, VOUT: eq(3.3), IOUT: between(10)},
    ),
]


# --- evaluation ---------------------------------------------------------------------------


def read_records(path: Path) -> list[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def lcsc_key(part: str) -> tuple[int, str]:
    digits = part[1:]
    return (int(digits), part) if digits.isdigit() else (sys.maxsize, part)


def matches(need: Need, record: Mapping[str, Any]) -> bool:
    if need.lcsc is not None:
        return record["lcsc"] == need.lcsc
    if need.mpn:
        return record["mfr_part"] == need.query
    if need.where and not record_satisfies(record, need.where):
        return False
    if need.any_of and not any(record_satisfies(record, alt) for alt in need.any_of):
        return False
    patterns = (need.text,) if isinstance(need.text, str) else need.text
    if patterns or need.exclude:
        haystack = record_text(record)
        if not all(re.search(p, haystack, re.IGNORECASE) for p in patterns):
            return False
        if need.exclude and re.search(need.exclude, haystack, re.IGNORECASE):
            return False
    return True


def record_text(record: Mapping[str, Any]) -> str:
    """What ``text``/``exclude`` search: part number, description, subcategory, display values."""
    attributes = record.get("attributes") or {}
    return " ".join(
        [
            record["mfr_part"],
            record.get("description") or "",
            record["subcategory"],
            *(str(v) for v in attributes.values()),
        ]
    )


def build_line(
    need: Need, records: list[dict[str, Any]], max_expected: int, strict: bool
) -> tuple[dict[str, Any], int]:
    """The suite line for ``need`` and the size of its answer set.

    ``strict`` (sample suite): every answer set must hold 1..``max_expected`` ids. Otherwise an
    answer set larger than ``max_expected`` is left out and the constraints alone carry the need.
    Fails (SystemExit naming the need) on constraints nothing satisfies, unless the need is of
    kind "unsatisfiable", which must be satisfied by nothing.
    """
    line: dict[str, Any] = {"id": need.id, "kind": need.kind, "query": need.query}
    if need.filters is not None:
        line["filters"] = validate_filters(need.filters)
    if need.where:
        line["constraints"] = validate_constraints(need.where)
        satisfiable = any(record_satisfies(r, need.where) for r in records)
        if need.kind == "unsatisfiable":
            if satisfiable:
                raise SystemExit(f"{need.id}: meant to be unsatisfiable, but records satisfy it")
            return line, 0
        if not satisfiable:
            raise SystemExit(f"{need.id}: no record satisfies its constraints")
    hits = sorted((r["lcsc"] for r in records if matches(need, r)), key=lcsc_key)
    if not hits:
        raise SystemExit(f"{need.id}: no record matches {need.query!r}")
    if len(hits) > max_expected:
        if strict or not need.where:
            raise SystemExit(f"{need.id}: {len(hits)} matches (> {max_expected}); narrow the need")
        return line, len(hits)  # too many to list: the constraints carry the need
    line["expected"] = hits
    return line, len(hits)


def render(
    needs: Iterable[Need],
    records: list[dict[str, Any]],
    max_expected: int,
    strict: bool,
    report: bool,
) -> str:
    lines: list[str] = []
    ids: set[str] = set()
    for need in needs:
        if need.id in ids:
            raise SystemExit(f"duplicate need id {need.id}")
        ids.add(need.id)
        line, n = build_line(need, records, max_expected, strict)
        if report:
            shown = "expected" if "expected" in line else "constraints only"
            print(f"  {need.kind:13} {n:5}  {shown:16}  {need.id}: {need.query}")
        lines.append(json.dumps(line, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def kinds(text: str) -> Counter[str]:
    return Counter(json.loads(line)["kind"] for line in text.splitlines())


def outputs(full_path: Path, report: bool) -> Iterator[tuple[Path, str, list[dict[str, Any]]]]:
    sample = read_records(SAMPLE_PATH)
    if report:
        print(f"{SAMPLE_OUT.name}:")
    yield SAMPLE_OUT, render(SAMPLE_NEEDS, sample, SAMPLE_MAX_EXPECTED, True, report), sample
    full = read_records(full_path)
    if report:
        print(f"{FULL_OUT.name}:")
    yield FULL_OUT, render(FULL_NEEDS, full, FULL_MAX_EXPECTED, False, report), full


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "full",
        nargs="?",
        type=Path,
        default=DEFAULT_FULL_PATH,
        help="the 25,000-part parts.jsonl (default: %(default)s)",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a committed suite differs"
    )
    parser.add_argument("--report", action="store_true", help="print each need's answer-set size")
    args = parser.parse_args(argv)
    stale = []
    for path, text, records in outputs(args.full, args.report):
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            known = {r["lcsc"] for r in records}
            for q in load_suite(path):
                missing = set(q.expected or ()) - known
                if missing:
                    raise SystemExit(f"{path.name}: {q.id}: unknown ids {sorted(missing)}")
        print(f"{path.name}: {dict(sorted(kinds(text).items()))}")
    if stale:
        print(f"out of date: {', '.join(stale)} (re-run without --check)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
