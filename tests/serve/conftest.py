"""The server under test: apps over the shared snapshot store (tests/conftest.py), and the
helpers the server's tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from serve.app import create_app
from serve.holder import SnapshotHolder
from snapsearch.format.model import HashingEncoder
from snapsearch.settings import ServeSettings
from tests.conftest import point_current

KNOWN_ID = "C25744"  # in every test snapshot (see tests/conftest.py)
Build = Callable[..., str]
MakeApp = Callable[..., Starlette]
PointCurrent = Callable[[Path, str], None]


def settings_for(root: Path, **kw: object) -> ServeSettings:
    kw.setdefault("reload_poll_s", 0)
    return ServeSettings(root=root, **kw)  # type: ignore[arg-type]


def make_app(root: Path, *, dim: int | None = None, **kw: object) -> Starlette:
    """The app over ``root``: each snapshot's own query encoder (the test snapshots carry the
    hashing one), or ``HashingEncoder(dim)`` for every snapshot when ``dim`` is given."""
    if dim is None:
        return create_app(settings_for(root, **kw))
    return create_app(settings_for(root, **kw), encoder_factory=lambda _s: HashingEncoder(dim))


def search(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/search", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def holder_of(client: TestClient) -> SnapshotHolder:
    holder = client.app_state["holder"]
    assert isinstance(holder, SnapshotHolder)
    return holder


def snapshot_id_of(client: TestClient) -> str:
    r = client.get("/v1/snapshot")
    assert r.status_code == 200
    return str(r.json()["snapshot_id"])


@pytest.fixture(name="make_app")
def make_app_fixture() -> MakeApp:
    """make_app(root, dim=None, **settings): an app over ``root`` (encoder: see make_app)."""
    return make_app


@pytest.fixture(name="point_current")
def point_current_fixture() -> PointCurrent:
    return point_current


@pytest.fixture(scope="module")
def app(store: Path) -> Starlette:
    return make_app(store)


@pytest.fixture(scope="module")
def client(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c
