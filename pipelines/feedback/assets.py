"""The feedback asset: the store's feedback log, read once per build (upstream of ``snapshot``
in the asset graph, so lineage shows which feedback a snapshot was built with)."""

from dagster import AssetExecutionContext, MetadataValue, asset

from pipelines.feedback.priors import FeedbackVotes, votes_of
from pipelines.progress import log
from pipelines.resources import StoreResource
from snapsearch.format.feedback import read_log


@asset(group_name="snapsearch", kinds={"jsonl"},
       description="The append-only feedback log (POST /v1/feedback) as votes: one per session "
                   "and record; the snapshot bakes them into priors.")
def feedback_log(context: AssetExecutionContext, store: StoreResource) -> FeedbackVotes:
    read = read_log(store.settings().root)
    votes = votes_of(read)
    msg = (f"feedback: {votes.events} events ({len(votes.votes)} records voted on, "
           f"{votes.invalid} invalid lines skipped), {votes.bytes} bytes, sha256 "
           f"{votes.sha256[:12]}")
    context.log.info(msg)
    log.info(msg)
    if read.invalid:
        context.log.warning(f"feedback: invalid lines skipped: {read.first_invalid}")
    context.add_output_metadata({
        "events": MetadataValue.int(votes.events),
        "records_voted": MetadataValue.int(len(votes.votes)),
        "invalid_lines": MetadataValue.int(votes.invalid),
        "bytes": MetadataValue.int(votes.bytes),
        "sha256": votes.sha256,
    })
    return votes
