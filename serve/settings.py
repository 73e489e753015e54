"""Server settings: declared once, typed, read from ``SNAPSEARCH_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "SNAPSEARCH_"

LogLevel = Literal["debug", "info", "warning", "error", "critical"]


class ServeSettings(BaseSettings):
    """Everything the server reads. Environment: SNAPSEARCH_<FIELD> (e.g. SNAPSEARCH_PORT)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid")

    root: Path = Field(default=REPO_ROOT / "snapshots", description="snapshot store root")
    host: str = Field(default="127.0.0.1", description="interface to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port")
    verify_checksums: bool = Field(
        default=True, description="verify every file's sha256 before serving a snapshot"
    )
    reload_poll_s: float = Field(
        default=2.0, ge=0.0, description="how often to check whether `current` moved; 0 disables"
    )
    close_grace_s: float = Field(
        default=30.0, ge=0.0,
        description="how long a replaced snapshot stays open for requests still using it",
    )
    search_threads: int = Field(
        default=4, ge=1, le=64,
        description="searches run at once in worker threads (more wait); keep near the core count",
    )
    log_level: LogLevel = Field(default="info", description="log level of the snapsearch loggers")


def settings_error_line(exc: ValidationError) -> str:
    """One line naming the environment variable and what it should hold."""
    parts = []
    for err in exc.errors(include_url=False):
        key = ENV_PREFIX + "_".join(str(p) for p in err["loc"]).upper()
        parts.append(f"{key}: {err['msg']} (got {err.get('input')!r})")
    return "invalid settings: " + "; ".join(parts)
