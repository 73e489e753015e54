"""One redaction for every URL the project records (issue 11, finding 9)."""

from __future__ import annotations

import logging

import pytest

from snapsearch.format.public import hide_paths, public_source
from snapsearch.format.redact import (
    RedactingFilter,
    is_secret_param,
    redact_logger,
    redact_text,
    redact_url,
)


@pytest.mark.parametrize(("url", "shown"), [
    ("https://example.com/p.jsonl", "https://example.com/p.jsonl"),
    ("https://bob:hunter2@example.com/p.jsonl", "https://***@example.com/p.jsonl"),
    ("https://ghp_abc123@github.com/x.jsonl", "https://***@github.com/x.jsonl"),
    ("https://u:p@ss@example.com:8443/a", "https://***@example.com:8443/a"),
    ("http://h/p?token=t0k&page=2", "http://h/p?token=***&page=2"),
    ("http://h/p?page=2&api_key=K;access_token=A", "http://h/p?page=2&api_key=***;access_token=***"),
    ("https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4&X-Amz-Credential=AKIA%2F&"
     "X-Amz-Signature=abc&x-amz-security-token=T&versionId=3",
     "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=***&X-Amz-Credential=***&"
     "X-Amz-Signature=***&x-amz-security-token=***&versionId=3"),
    ("https://a.blob.core.windows.net/c/f?sv=2020&sig=SECRET&se=2030",
     "https://a.blob.core.windows.net/c/f?sv=2020&sig=***&se=2030"),
    ("https://h/p?PASSWORD=x&Secret=y&client_secret=z&Signature=s&X-Goog-Signature=g",
     "https://h/p?PASSWORD=***&Secret=***&client_secret=***&Signature=***&X-Goog-Signature=***"),
    ("https://h/cb#access_token=abc&state=1", "https://h/cb#access_token=***&state=1"),
    ("https://h/p?q=1#frag", "https://h/p?q=1#frag"),
    ("https://h/p?token", "https://h/p?token"),  # a bare flag holds no value
    ("/data/parts.jsonl", "/data/parts.jsonl"),  # not a URL: a local path, unchanged
])
def test_redact_url(url, shown):
    assert redact_url(url) == shown
    assert redact_url(shown) == shown  # redacting twice changes nothing


@pytest.mark.parametrize("name", ["token", "Access_Token", "apikey", "key", "X-Amz-Date",
                                  "x-goog-credential", "sig", "pwd", "auth", "sessionid", "code"])
def test_secret_names(name):
    assert is_secret_param(name)


@pytest.mark.parametrize("name", ["page", "limit", "format", "versionId", "q", "sv", "se"])
def test_plain_names(name):
    assert not is_secret_param(name)


def test_redact_text_finds_urls_in_messages():
    text = ("could not fetch https://bob:pw@h/p?token=abc: HTTP 401; retried "
            "'http://h/x?sig=1' and (https://h/y)")
    assert redact_text(text) == (
        "could not fetch https://***@h/p?token=***: HTTP 401; retried "
        "'http://h/x?sig=***' and (https://h/y)"
    )


def test_the_logging_filter_redacts_formatted_messages(caplog):
    logger = logging.getLogger("test.redact")
    redact_logger("test.redact")
    redact_logger("test.redact")  # once
    assert sum(isinstance(f, RedactingFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.INFO, logger="test.redact"):
        logger.info('HTTP Request: %s %s "%s"', "GET", "https://u:p@h/a?token=t", "200 OK")
    assert caplog.messages == ['HTTP Request: GET https://***@h/a?token=*** "200 OK"']


def test_public_sources_and_paths():
    assert public_source("/home/bob/data/parts.jsonl", show_paths=False) == "…/parts.jsonl"
    assert public_source("/home/bob/data/parts.jsonl", show_paths=True) == (
        "/home/bob/data/parts.jsonl"
    )
    assert public_source("https://u:p@h/a.jsonl?key=k", show_paths=True) == (
        "https://***@h/a.jsonl?key=***"
    )
    assert hide_paths("see /root/snapshots/_gates/x.json for more") == "see …/x.json for more"
    # not paths: a model id, a URL's path, a fraction, a lone slash
    for text in ("sentence-transformers/all-MiniLM-L6-v2", "https://h/a/b.jsonl", "1/2",
                 "p50 17.0 / 25.0 ms", "/v1"):
        assert hide_paths(text) == text
