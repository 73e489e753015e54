"""The server's exclusion policy: rules every search, lookup and context request gets (the
``SNAPSEARCH_EXCLUDE_POLICY`` file), and the metric that counts, by rule, the hits they removed.

The app factory makes one ``Policy`` and the lifespan hands it to the routes
(``request.state.policy``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request

from snapsearch.search.exclusion import Rule

POLICY_METRIC = "snapsearch_policy_excluded"


@dataclass
class Policy:
    rules: Sequence[Rule] = ()
    counter: Counter | None = field(default=None, repr=False)

    @classmethod
    def create(cls, rules: Sequence[Rule], registry: CollectorRegistry) -> Policy:
        counter = Counter(
            POLICY_METRIC, "Hits removed by the server's exclusion policy, by rule", ["rule"],
            registry=registry,
        )
        for r in rules:  # every rule is listed from the start, at 0
            counter.labels(r.name)
        return cls(list(rules), counter)

    def count(self, excluded: Mapping[str, int]) -> None:
        """Count the hits the policy's rules removed (``excluded`` by ``Rule.label``)."""
        if self.counter is None:
            return
        for label, n in excluded.items():
            source, _, name = label.partition(":")
            if source == "policy" and n > 0:
                self.counter.labels(name).inc(n)


NO_POLICY = Policy()


def policy_of(request: Request) -> Policy:
    policy = getattr(request.state, "policy", None)
    return policy if isinstance(policy, Policy) else NO_POLICY
