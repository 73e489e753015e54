"""The fetch asset: raw ingestion only."""

from dagster import AssetExecutionContext, MetadataValue, asset

from pipelines.fetch.raw import RawVersion
from pipelines.fetch.sources import fetch_source
from pipelines.progress import log
from pipelines.resources import StoreResource


@asset(group_name="snapsearch", kinds={"python"},
       description="Raw source bytes in the content-addressed cache.")
def raw_records(context: AssetExecutionContext, store: StoreResource) -> RawVersion:
    s = store.settings()
    raw = fetch_source(s.source, s.root, timeout_s=s.fetch_timeout_s, retries=s.fetch_retries)
    msg = f"fetch: {s.source} -> raw {raw.digest[:12]} ({'new' if raw.new else 'unchanged'})"
    context.log.info(msg)
    log.info(msg)
    context.add_output_metadata(
        {
            "source": s.source,
            "digest": raw.digest,
            "new_version": raw.new,
            "files": len(raw.files),
            "bytes": MetadataValue.int(sum(f.bytes for f in raw.files)),
            "fetched_at": raw.fetched_at,
        }
    )
    return raw
