"""fetch_source: which sources it takes and which arguments it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.fetch import fetch_source
from snapsearch.format.errors import SourceError


def test_unsupported_scheme_is_a_source_error(root: Path) -> None:
    with pytest.raises(SourceError, match="unsupported scheme 'ftp'") as err:
        fetch_source("ftp://example.test/parts.jsonl", root)
    assert "ftp://example.test/parts.jsonl" in str(err.value)
    assert "http(s)" in (err.value.fix or "")

def test_negative_retries_rejected(tmp_path: Path, root: Path) -> None:
    with pytest.raises(ValueError, match="retries"):
        fetch_source(str(tmp_path), root, retries=-1)
