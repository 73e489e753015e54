"""Fetch stage: raw ingestion into the content-addressed cache under ``<root>/_raw``."""

from pipelines.fetch.cache import read_fetch_manifest
from pipelines.fetch.raw import RawFile, RawVersion, raw_digest
from pipelines.fetch.sources import fetch_source

__all__ = ["RawFile", "RawVersion", "fetch_source", "raw_digest", "read_fetch_manifest"]
