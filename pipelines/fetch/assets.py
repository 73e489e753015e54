"""The fetch asset: the start of a run (run lock, repair, leftovers), then raw ingestion only,
one raw version per configured collection."""

from dagster import AssetExecutionContext, MetadataValue, asset

from pipelines.fetch.raw import RawVersion
from pipelines.fetch.sources import fetch_source
from pipelines.instance import instance_mismatch
from pipelines.progress import log
from pipelines.publish.begin import begin_run
from pipelines.resources import StoreResource


@asset(group_name="snapsearch", kinds={"python"},
       description="Raw source bytes of every collection in the content-addressed cache.")
def raw_records(context: AssetExecutionContext, store: StoreResource) -> dict[str, RawVersion]:
    s = store.settings()
    start = begin_run(s.root, context.run.run_id)
    mismatch = instance_mismatch(context.instance, s)
    for msg in [m for m in (mismatch, start.repaired) if m] + (
        [f"removed leftovers of killed processes: {', '.join(start.removed)}"]
        if start.removed else []
    ):
        context.log.warning(msg)
        log.warning(msg)
    raws: dict[str, RawVersion] = {}
    for c in s.build_collections():
        raw = fetch_source(c.source, s.root, timeout_s=s.fetch_timeout_s, retries=s.fetch_retries)
        msg = (f"fetch: {c.name}: {raw.source} -> raw {raw.digest[:12]} "
               f"({'new' if raw.new else 'unchanged'})")
        context.log.info(msg)
        log.info(msg)
        raws[c.name] = raw
    one = len(raws) == 1
    context.add_output_metadata(
        {
            **{(k if one else f"{name}.{k}"): v for name, raw in raws.items()
               for k, v in _metadata(raw).items()},
            "collections": len(raws),
            "leftovers_removed": MetadataValue.int(len(start.removed)),
        }
    )
    return raws


def _metadata(raw: RawVersion) -> dict[str, object]:
    return {
        "source": raw.source,
        "digest": raw.digest,
        "new_version": raw.new,
        "files": MetadataValue.int(len(raw.files)),
        "bytes": MetadataValue.int(sum(f.bytes for f in raw.files)),
        "fetched_at": raw.fetched_at,
    }
