"""The real-model store the end-to-end tests share: the whole Dagster job with the defaults (the
pinned model, the bundled sample, the committed suite, every gate) into a temp store, once per
session. Its snapshot carries the model's ONNX export as its query encoder."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.job import run_job
from snapsearch.settings import PipelineSettings


@pytest.fixture(scope="session")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("e2e") / "snapshots"
    outcome = run_job(PipelineSettings(root=root))
    assert outcome.published
    assert all(g["passed"] for g in outcome.gates.values()), outcome.gates
    return root
