"""The server under test: apps over the shared snapshot store (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from serve.app import create_app
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import ServeSettings
from tests.conftest import point_current


def settings_for(root: Path, **kw: object) -> ServeSettings:
    kw.setdefault("reload_poll_s", 0)
    return ServeSettings(root=root, **kw)  # type: ignore[arg-type]


def make_app(root: Path, *, dim: int = 64, **kw: object) -> Starlette:
    return create_app(settings_for(root, **kw), encoder_factory=lambda: HashingEncoder(dim))


@pytest.fixture(name="make_app")
def make_app_fixture() -> Callable[..., Starlette]:
    """make_app(root, dim=64, **settings): an app whose encoder is HashingEncoder(dim)."""
    return make_app


@pytest.fixture(name="point_current")
def point_current_fixture() -> Callable[[Path, str], None]:
    return point_current


@pytest.fixture(scope="module")
def app(store: Path) -> Starlette:
    return make_app(store)


@pytest.fixture(scope="module")
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
