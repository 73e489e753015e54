"""Raw JSONL -> rows and rejects: reasons, reject rate, malformed lines, gzip, empty sources."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

import pytest

from pipelines.transform.records import (
    MAX_DEPTH,
    Limits,
    ParsedSource,
    RejectRateError,
    check_reject_rate,
    parse_records,
    read_json_objects,
)
from snapsearch.format.errors import SourceError
from snapsearch.kinds import get_kind
from tests.conftest import sample_records, write_jsonl

PARTS = get_kind("parts")


@pytest.fixture(scope="module")
def ten() -> list[dict]:
    return sample_records()[:10]


def mixed(ten: list[dict]) -> list[dict]:
    """10 good records, 2 invalid ones and 1 duplicate id (13 in all)."""
    bad_id = copy.deepcopy(ten[1]) | {"lcsc": "X12"}  # record 11: not an LCSC id
    bad_stock = copy.deepcopy(ten[2]) | {"lcsc": "C999999991", "stock": -1}  # record 12
    duplicate = copy.deepcopy(ten[0])  # record 13: same id as record 1
    return [*ten, bad_id, bad_stock, duplicate]


def test_rejects_counted_with_reasons(tmp_path, ten):
    src = write_jsonl(tmp_path / "mixed.jsonl", mixed(ten))
    parsed = parse_records([(src, "mixed.jsonl")], PARTS)
    assert parsed.total == 13
    assert [r.id for r in parsed.rows] == [r["lcsc"] for r in ten]
    assert [(r.line, r.id) for r in parsed.rejects] == [
        (11, "X12"), (12, "C999999991"), (13, ten[0]["lcsc"])
    ]
    reasons = [r.reason for r in parsed.rejects]
    assert "is not an LCSC id" in reasons[0]
    assert "stock -1" in reasons[1]
    assert "duplicate id (first seen at line 1)" in reasons[2]
    assert all(r.startswith("mixed.jsonl: ") for r in reasons)


def test_reject_rate_within_the_limit(tmp_path, ten):
    src = write_jsonl(tmp_path / "mixed.jsonl", mixed(ten))
    parsed = parse_records([(src, "mixed.jsonl")], PARTS)
    check_reject_rate(parsed, 0.25, "src")  # 3/13 = 23%


def test_reject_rate_above_the_limit(tmp_path, ten):
    src = write_jsonl(tmp_path / "mixed.jsonl", mixed(ten))
    parsed = parse_records([(src, "mixed.jsonl")], PARTS)
    with pytest.raises(RejectRateError) as exc:
        check_reject_rate(parsed, 0.01, "my-source")
    msg = exc.value.message
    assert "my-source" in msg
    assert "3 of 13 records rejected" in msg
    assert "23.1% > max_reject_rate 1.0%" in msg
    assert "mixed.jsonl line 11: lcsc 'X12'" in msg  # the first offending records, by line
    assert "SNAPSEARCH_MAX_REJECT_RATE" in (exc.value.fix or "")
    assert isinstance(exc.value, SourceError)


def test_non_object_lines_are_rejects_not_crashes(tmp_path, ten):
    p = tmp_path / "odd.jsonl"
    p.write_text(json.dumps(ten[0]) + "\n[1, 2]\n42\n", encoding="utf-8")
    parsed = parse_records([(p, "odd.jsonl")], PARTS)
    assert len(parsed.rows) == 1
    assert [(r.line, r.id) for r in parsed.rejects] == [(2, None), (3, None)]
    assert all("not a JSON object" in r.reason for r in parsed.rejects)


@pytest.mark.parametrize("bad", ["{oops", '{"lcsc": "C1"', '{"a": 1} {"b": 2}'])
def test_malformed_line_names_file_and_line(tmp_path, ten, bad):
    p = tmp_path / "broken.jsonl"
    lines = [json.dumps(r) for r in ten[:3]]
    p.write_text("\n".join([lines[0], "", lines[1], bad, lines[2]]) + "\n", encoding="utf-8")
    with pytest.raises(SourceError) as exc:
        read_json_objects(p, "broken.jsonl")
    assert exc.value.message.startswith("broken.jsonl: line 4: not valid JSON")
    assert "at column" in exc.value.message
    with pytest.raises(SourceError, match="broken.jsonl: line 4"):
        parse_records([(p, "broken.jsonl")], PARTS)


def test_gzip_reads_the_same_as_plain(tmp_path, ten):
    records = mixed(ten)
    plain = write_jsonl(tmp_path / "p.jsonl", records)
    gz = tmp_path / "p.jsonl.gz"
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    assert read_json_objects(gz, "p.jsonl.gz") == read_json_objects(plain, "p.jsonl") == records
    a = parse_records([(plain, "p.jsonl")], PARTS)
    b = parse_records([(gz, "p.jsonl.gz")], PARTS)
    assert a.rows == b.rows
    assert [(r.line, r.id) for r in a.rejects] == [(r.line, r.id) for r in b.rejects]


def test_malformed_gzip_line_names_the_line(tmp_path, ten):
    gz = tmp_path / "p.jsonl.gz"
    gz.write_bytes(gzip.compress((json.dumps(ten[0]) + "\nnope\n").encode()))
    with pytest.raises(SourceError, match="p.jsonl.gz: line 2"):
        read_json_objects(gz, "p.jsonl.gz")


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_empty_file_is_an_error(tmp_path, content):
    p = tmp_path / "empty.jsonl"
    p.write_text(content, encoding="utf-8")
    parsed = parse_records([(p, "empty.jsonl")], PARTS)
    assert parsed.total == 0 and parsed.rows == [] and parsed.rejects == []
    with pytest.raises(RejectRateError, match="empty-source: no records found"):
        check_reject_rate(parsed, 0.5, "empty-source")


def test_unsupported_format(tmp_path):
    p = tmp_path / "parts.csv"
    p.write_text("lcsc\nC1\n", encoding="utf-8")
    with pytest.raises(SourceError, match="parts.csv: unsupported raw format"):
        read_json_objects(p, "parts.csv")


def test_duplicates_across_files(tmp_path, ten):
    a = write_jsonl(tmp_path / "a.jsonl", ten[:6])
    b = write_jsonl(tmp_path / "b.jsonl", ten[4:])
    parsed = parse_records([(a, "a.jsonl"), (b, "b.jsonl")], PARTS)
    assert parsed.total == 12
    assert [r.id for r in parsed.rows] == [r["lcsc"] for r in ten]
    assert len(parsed.rejects) == 2
    assert all(r.reason.startswith("b.jsonl: duplicate id") for r in parsed.rejects)
    assert parsed.rejects[0].reason.endswith("(first seen at line 5 of a.jsonl)")


def test_no_rejects_passes_any_rate(tmp_path, ten):
    src: Path = write_jsonl(tmp_path / "ok.jsonl", ten)
    parsed = parse_records([(src, "ok.jsonl")], PARTS)
    assert isinstance(parsed, ParsedSource)
    check_reject_rate(parsed, 0.0, "src")


# -- bad input: every problem names file, line and reason (issue 11, finding 10) ---------------


def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    return path


def test_line_numbers_count_blank_lines(tmp_path, ten):
    bad = copy.deepcopy(ten[1]) | {"lcsc": "X1"}
    p = write_lines(tmp_path / "gaps.jsonl",
                    [json.dumps(ten[0]).encode(), b"", b"   ", json.dumps(bad).encode()])
    parsed = parse_records([(p, "gaps.jsonl")], PARTS)
    assert parsed.total == 2
    assert [(r.line, r.id) for r in parsed.rejects] == [(4, "X1")]


def test_a_non_utf8_byte_names_file_line_and_column(tmp_path, ten):
    good = json.dumps(ten[0]).encode()
    p = write_lines(tmp_path / "latin1.jsonl", [good, good.replace(b'"lcsc"', b'"lcsc\xff"')])
    with pytest.raises(SourceError) as exc:
        parse_records([(p, "latin1.jsonl")], PARTS)
    msg = exc.value.message
    assert msg.startswith("latin1.jsonl: line 2: not valid UTF-8 (byte 0xff at column ")
    assert "UTF-8" in (exc.value.fix or "")


def test_a_lone_surrogate_is_a_reject_at_its_line(tmp_path, ten):
    rec = json.dumps(copy.deepcopy(ten[1]) | {"description": "x"}).replace('"x"', '"a\\ud800b"')
    p = write_lines(tmp_path / "sur.jsonl", [json.dumps(ten[0]).encode(), rec.encode()])
    parsed = parse_records([(p, "sur.jsonl")], PARTS)
    assert len(parsed.rows) == 1
    (r,) = parsed.rejects
    assert r.line == 2
    assert r.reason == (
        "sur.jsonl: field 'description' holds a lone surrogate (\\ud800 at character 2): "
        "not valid Unicode text"
    )


@pytest.mark.parametrize("cut", [10, 200, -9])
def test_a_truncated_gzip_is_one_clear_error(tmp_path, ten, cut):
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in ten))
    gz = tmp_path / "cut.jsonl.gz"
    gz.write_bytes(data[:cut])
    with pytest.raises(SourceError) as exc:
        parse_records([(gz, "cut.jsonl.gz")], PARTS)
    assert exc.value.message.startswith("cut.jsonl.gz: the gzip stream is truncated or damaged")
    assert exc.value.fix


def test_not_gzip_at_all(tmp_path):
    gz = tmp_path / "plain.jsonl.gz"
    gz.write_text('{"a": 1}\n', encoding="utf-8")
    with pytest.raises(SourceError, match="plain.jsonl.gz: the gzip stream is truncated"):
        read_json_objects(gz, "plain.jsonl.gz")


def test_a_huge_field_is_a_reject_naming_the_cap(tmp_path, ten):
    big = copy.deepcopy(ten[1]) | {"description": "x" * 200_000}
    p = write_jsonl(tmp_path / "big.jsonl", [ten[0], big])
    parsed = parse_records([(p, "big.jsonl")], PARTS)
    (r,) = parsed.rejects
    assert (r.line, r.id) == (2, None)
    assert r.reason == ("big.jsonl: field 'description' is 200,000 characters "
                        "(max 100,000: SNAPSEARCH_MAX_FIELD_CHARS)")
    # the cap is a setting
    assert not parse_records([(p, "big.jsonl")], PARTS, Limits(max_field_chars=300_000)).rejects


def test_a_huge_line_is_skipped_without_holding_it(tmp_path, ten):
    big = copy.deepcopy(ten[1]) | {"description": "y" * 3_000_000}
    p = write_jsonl(tmp_path / "line.jsonl", [ten[0], big, ten[2]])
    parsed = parse_records([(p, "line.jsonl")], PARTS, Limits(max_record_bytes=1_000_000))
    assert [r.id for r in parsed.rows] == [ten[0]["lcsc"], ten[2]["lcsc"]]
    (r,) = parsed.rejects
    assert r.line == 2
    assert "line.jsonl: record is 3,00" in r.reason
    assert "(max 1,000,000: SNAPSEARCH_MAX_RECORD_BYTES)" in r.reason


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5_000])
def test_deep_nesting_is_a_reject_not_a_crash(tmp_path, ten, depth):
    deep = "[" * depth + "]" * depth
    rec = json.dumps(copy.deepcopy(ten[1]) | {"attributes_extra": 0}).replace("0}", deep + "}")
    p = write_lines(tmp_path / "deep.jsonl", [json.dumps(ten[0]).encode(), rec.encode()])
    parsed = parse_records([(p, "deep.jsonl")], PARTS)
    (r,) = parsed.rejects
    assert r.line == 2
    assert r.reason == f"deep.jsonl: record is nested deeper than {MAX_DEPTH} levels"


@pytest.mark.parametrize(("value", "why"), [
    ("10" + "0" * 29, "field 'stock' is an integer of 31 digits (past 64 bits)"),
    ("NaN", "field 'stock' is nan, not a finite number"),
    ("1e400", "field 'stock' is inf, not a finite number"),
])
def test_numbers_sqlite_cannot_hold_are_rejects(tmp_path, ten, value, why):
    rec = json.dumps(copy.deepcopy(ten[1]) | {"stock": 7})
    rec = rec.replace('"stock": 7', f'"stock": {value}')
    p = write_lines(tmp_path / "num.jsonl", [json.dumps(ten[0]).encode(), rec.encode()])
    (r,) = parse_records([(p, "num.jsonl")], PARTS).rejects
    assert (r.line, r.reason) == (2, f"num.jsonl: {why}")


@pytest.mark.parametrize("lcsc", ["C\u0663\u0663", "C\uff11", "C12\u00b2"])
def test_part_ids_take_ascii_digits_only(tmp_path, ten, lcsc):
    p = write_jsonl(tmp_path / "ids.jsonl", [ten[0], copy.deepcopy(ten[1]) | {"lcsc": lcsc}])
    (r,) = parse_records([(p, "ids.jsonl")], PARTS).rejects
    assert r.line == 2 and "is not an LCSC id" in r.reason
