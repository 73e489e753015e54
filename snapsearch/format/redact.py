"""Secrets never recorded: one redaction for every URL the project writes down.

A source URL may carry credentials (``https://user:pass@host/...``) or a token in its query
(``?token=...``, a presigned ``X-Amz-Signature=...``). Wherever a URL is recorded (the fetch
manifest, a snapshot's manifest, logs, errors, the server's answers) it goes through
``redact_url`` (one URL) or ``redact_text`` (free text that may contain URLs) first.

Rules:
- the whole userinfo (``user:password@``) becomes ``***@`` (a bare token is often the user);
- a query or fragment parameter whose name looks secret keeps its name, its value becomes
  ``***``: names containing token, key, secret, sig (signature), password, passwd, pwd, auth,
  credential, session or code, and every ``X-Amz-*`` / ``X-Goog-*`` parameter (any case);
- everything else stays byte for byte (the host and path name the source; they are not secret).

Redacting twice gives the same text, so recorded values can be redacted again on the way out.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

MASK = "***"
_SECRET_MARKERS = (
    "token", "key", "secret", "sig", "password", "passwd", "pwd", "auth", "credential",
    "session", "code",
)
_SECRET_PREFIXES = ("x-amz-", "x-goog-")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# a URL inside free text: scheme://, then anything up to white space or a quote/bracket, less
# trailing punctuation ("fetch https://h/p: HTTP 401")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:)\]]")


def is_secret_param(name: str) -> bool:
    """Whether a query parameter's name says its value is a secret."""
    n = unquote(name).strip().lower()
    return n.startswith(_SECRET_PREFIXES) or any(m in n for m in _SECRET_MARKERS)


def _redact_params(part: str) -> str:
    """``a=1&token=x;b`` -> ``a=1&token=***;b`` (separators and order kept)."""
    pieces = re.split(r"([&;])", part)
    out = []
    for piece in pieces:
        name, eq, _value = piece.partition("=")
        out.append(f"{name}={MASK}" if eq and is_secret_param(name) else piece)
    return "".join(out)


def redact_url(url: str) -> str:
    """``url`` with its credentials and secret query/fragment parameters masked; a string that
    is not a URL (a local path) comes back unchanged."""
    m = _SCHEME.match(url)
    if m is None:
        return url
    head, rest = m.group(0), url[m.end():]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    path, qmark, query = tail.partition("?")
    if qmark:
        query, hashmark, fragment = query.partition("#")
        tail = path + "?" + _redact_params(query) + (
            hashmark + _redact_params(fragment) if hashmark else ""
        )
    else:
        path, hashmark, fragment = tail.partition("#")
        tail = path + (hashmark + _redact_params(fragment) if hashmark else "")
    return head + netloc + tail


def redact_text(text: str) -> str:
    """Every URL inside ``text`` redacted (an error message, a log line)."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts every URL in a record's message (e.g. on the ``httpx``
    logger, which logs each request's full URL, credentials included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_logger(name: str) -> None:
    """Install ``RedactingFilter`` on the logger ``name`` (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
