"""The Dagster resource: the pipeline's settings, and the embedding model they name."""

from __future__ import annotations

import json

from dagster import ConfigurableResource

from pipelines.transform.encoder import settings_encoder
from snapsearch.format.model import Encoder
from snapsearch.settings import PipelineSettings, load_settings, public_dump


class StoreResource(ConfigurableResource):  # type: ignore[type-arg]
    """What to build and where: the ``SNAPSEARCH_*`` settings, or settings a caller resolved
    (``of``; secret fields are left out of the run config and read from the environment)."""

    settings_json: str = ""
    force: bool = False

    @classmethod
    def of(cls, settings: PipelineSettings, *, force: bool = False) -> StoreResource:
        return cls(settings_json=json.dumps(public_dump(settings)), force=force)

    def settings(self) -> PipelineSettings:
        given = json.loads(self.settings_json) if self.settings_json else {}
        return load_settings(PipelineSettings, given)

    def encoder(self) -> Encoder:
        """The settings' encoder ('minilm', the pinned model; 'hashing' in tests), one per
        process."""
        return settings_encoder(self.settings())
