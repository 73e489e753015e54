"""Fetch stage: raw ingestion into the content-addressed cache under ``<root>/_raw``."""

from pipelines.fetch.cache import read_fetch_manifest
from pipelines.fetch.sources import RawFile, RawVersion, fetch_source, raw_digest

__all__ = ["RawFile", "RawVersion", "fetch_source", "raw_digest", "read_fetch_manifest"]
