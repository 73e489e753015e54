"""Access control: the optional bearer token and the per-client rate limit (serve/auth.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.testclient import TestClient

from serve.auth import AccessPolicy, TokenBuckets, is_loopback
from snapsearch.settings import ServeSettings, SettingsError, load_settings, public_dump
from tests.serve.conftest import settings_for
from tests.serve.test_errors import check_shape

TOKEN = "s3cret-token-0123456789"
MakeApp = Callable[..., Starlette]
OPEN = ("/livez", "/readyz", "/metrics")
GUARDED = ("/v1/snapshot", "/v1/records/C25744", "/openapi.json", "/?q=resistor",
           "/records/C25744")


@contextmanager
def serving(make_app: MakeApp, store: Path, client: tuple[str, int] = ("127.0.0.1", 5000),
            **settings: object) -> Iterator[TestClient]:
    with TestClient(make_app(store, **settings), client=client) as c:
        yield c


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# -- off by default on loopback ----------------------------------------------------------------

def test_off_by_default_on_loopback(make_app: MakeApp, store: Path) -> None:
    with serving(make_app, store) as client:
        for _ in range(60):  # more than any burst
            assert client.post("/v1/search", json={"query": "resistor"}).status_code == 200
        for path in GUARDED:
            assert client.get(path).status_code == 200, path


def test_policy_defaults() -> None:
    loopback = AccessPolicy.from_settings(ServeSettings())
    assert loopback.token is None and loopback.rate_per_s == 0
    with_token = AccessPolicy.from_settings(ServeSettings(api_token=TOKEN))
    assert with_token.rate_per_s == 20 and with_token.burst == 40
    assert with_token.open_paths == OPEN
    explicit_off = AccessPolicy.from_settings(ServeSettings(api_token=TOKEN, rate_limit_per_s=0))
    assert explicit_off.rate_per_s == 0


def test_exposed_without_a_token_is_rate_limited_and_warns(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="snapsearch.serve"):
        policy = AccessPolicy.from_settings(ServeSettings(host="0.0.0.0"))
    assert policy.token is None and policy.rate_per_s == 20
    assert "without a token" in caplog.text and "SNAPSEARCH_API_TOKEN" in caplog.text


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
    ("localhost", True), ("0.0.0.0", False), ("192.168.1.4", False), ("::", False),
    ("example.org", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# -- the token ---------------------------------------------------------------------------------

def test_a_token_guards_everything_but_the_open_paths(make_app: MakeApp, store: Path) -> None:
    with serving(make_app, store, api_token=TOKEN, rate_limit_per_s=0) as client:
        r = client.post("/v1/search", json={"query": "resistor"})
        err = check_shape(r, 401, "unauthorized", None)
        assert r.headers["www-authenticate"] == 'Bearer realm="snapsearch"'
        assert "Authorization: Bearer" in err["message"]
        assert TOKEN not in r.text
        for path in GUARDED:
            check_shape(client.get(path), 401, "unauthorized", None)
            assert client.get(path, headers=bearer()).status_code == 200, path
        for path in OPEN:
            assert client.get(path).status_code == 200, path
        r = client.post("/v1/search", json={"query": "resistor"}, headers=bearer())
        assert r.status_code == 200 and r.json()["hits"]


@pytest.mark.parametrize("authorization", [
    f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", TOKEN, "Bearer", "",
    f"Bearer  {TOKEN} extra",
])
def test_wrong_tokens_are_refused(make_app: MakeApp, store: Path, authorization: str) -> None:
    with serving(make_app, store, api_token=TOKEN, rate_limit_per_s=0) as client:
        r = client.get("/v1/snapshot", headers={"authorization": authorization})
    check_shape(r, 401, "unauthorized", None)


def test_the_scheme_is_case_insensitive(make_app: MakeApp, store: Path) -> None:
    with serving(make_app, store, api_token=TOKEN, rate_limit_per_s=0) as client:
        assert client.get("/v1/snapshot", headers={"authorization": f"bearer {TOKEN}"}
                          ).status_code == 200


def test_open_paths_are_configurable(make_app: MakeApp, store: Path) -> None:
    with serving(make_app, store, api_token=TOKEN, rate_limit_per_s=0,
                 open_paths=["/livez", "/records/*"]) as client:
        assert client.get("/livez").status_code == 200
        assert client.get("/records/C25744").status_code == 200  # a prefix
        check_shape(client.get("/readyz"), 401, "unauthorized", None)
        check_shape(client.get("/metrics"), 401, "unauthorized", None)
        check_shape(client.get("/recordsX"), 401, "unauthorized", None)


def test_refusals_are_counted(make_app: MakeApp, store: Path) -> None:
    with serving(make_app, store, api_token=TOKEN, rate_limit_per_s=0) as client:
        client.get("/v1/snapshot")
        metrics = client.get("/metrics").text
    assert 'code="unauthorized"' in metrics


def test_the_token_is_a_secret() -> None:
    settings = ServeSettings(api_token=TOKEN)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    assert "api_token" not in public_dump(settings)
    assert isinstance(settings.api_token, SecretStr)


def test_a_short_token_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAPSEARCH_API_TOKEN", "short")
    with pytest.raises(SettingsError, match="SNAPSEARCH_API_TOKEN") as info:
        load_settings(ServeSettings)
    assert "short" not in str(info.value)  # not even a wrong token is echoed


# -- the rate limit ----------------------------------------------------------------------------

def test_rate_limit_answers_429_with_retry_after(make_app: MakeApp, store: Path) -> None:
    with serving(make_app, store, api_token=TOKEN, rate_limit_per_s=0.5,
                 rate_limit_burst=3) as client:
        for _ in range(3):
            assert client.get("/v1/snapshot", headers=bearer()).status_code == 200
        r = client.get("/v1/snapshot", headers=bearer())
        err = check_shape(r, 429, "rate_limited", None)
        assert r.headers["retry-after"] == "2"  # one request every 2 s
        assert "retry after 2 s" in err["message"]
        # the probes stay open
        for path in OPEN:
            assert client.get(path).status_code == 200
        # guessing tokens is rate limited too
        check_shape(client.get("/v1/snapshot"), 429, "rate_limited", None)


def test_rate_limit_is_per_client(make_app: MakeApp, store: Path) -> None:
    app = make_app(store, rate_limit_per_s=0.1, rate_limit_burst=2)
    a, b = TestClient(app, client=("10.0.0.1", 1)), TestClient(app, client=("10.0.0.2", 1))
    assert [a.get("/openapi.json").status_code for _ in range(3)] == [200, 200, 429]
    assert b.get("/openapi.json").status_code == 200  # its own bucket


def test_rate_limit_without_a_token(make_app: MakeApp, store: Path) -> None:
    with serving(make_app, store, rate_limit_per_s=0.1, rate_limit_burst=1) as client:
        assert client.get("/v1/snapshot").status_code == 200
        check_shape(client.get("/v1/snapshot"), 429, "rate_limited", None)


def test_token_buckets_refill() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 100.0  # a long pause refills to the burst, no more
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, pytest.approx(0.5)]


def test_token_buckets_keep_at_most_max_clients() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=lambda: 0.0, max_clients=3)
    for client in "abcd":
        buckets.take(client)
    assert buckets.take("a") == 0.0  # forgotten (the oldest): a full bucket again
    assert buckets.take("d") > 0


def test_settings_helper_builds_serve_settings(store: Path) -> None:
    s = settings_for(store, api_token=TOKEN)
    assert s.api_token is not None and s.api_token.get_secret_value() == TOKEN
