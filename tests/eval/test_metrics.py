"""Known-value tests for eval.metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.metrics import hit_at_k, mrr_at_k, ndcg_at_k, percentile, recall_at_k, summarize

# --- nDCG -------------------------------------------------------------------------------------


def test_ndcg_graded_gains_hand_computed() -> None:
    # DCG  = 1/log2(2) + 3/log2(3) + 2/log2(4) = 1 + 1.892789 + 1 = 3.892789
    # IDCG = 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.261860 + 0.5 = 4.761860
    gains = {"a": 1.0, "b": 3.0, "c": 2.0, "z": 0.0}
    assert ndcg_at_k(["a", "b", "c"], gains, k=3) == pytest.approx(0.817494, abs=1e-6)


def test_ndcg_ideal_order_is_one_and_unjudged_ids_gain_nothing() -> None:
    gains = {"a": 3.0, "b": 2.0, "c": 1.0}
    assert ndcg_at_k(["a", "b", "c"], gains) == pytest.approx(1.0)
    # an unjudged id at rank 1 pushes everything down one place
    dcg = 3 / math.log2(3) + 2 / math.log2(4) + 1 / math.log2(5)
    idcg = 3 + 2 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(["x", "a", "b", "c"], gains) == pytest.approx(dcg / idcg)


def test_ndcg_ideal_counts_relevant_ids_never_returned() -> None:
    gains = {"a": 1.0, "b": 1.0}
    assert ndcg_at_k(["a"], gains) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_ndcg_cuts_at_k_and_counts_a_repeated_id_once() -> None:
    gains = {"a": 1.0, "b": 1.0}
    assert ndcg_at_k(["x", "a"], gains, k=1) == 0.0
    # the duplicate "a" does not earn a second gain; "b" stays at rank 3
    expected = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["a", "a", "x", "b"], gains, k=3) == pytest.approx(expected)


def test_ndcg_no_positive_gain_is_zero() -> None:
    assert ndcg_at_k(["a", "b"], {}) == 0.0
    assert ndcg_at_k(["a", "b"], {"a": 0.0}) == 0.0


def test_ndcg_rejects_negative_gain_and_bad_k() -> None:
    with pytest.raises(ValueError, match="gains"):
        ndcg_at_k(["a"], {"a": -1.0})
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k(["a"], {"a": 1.0}, k=0)


# --- MRR, recall, hit -------------------------------------------------------------------------


def test_mrr_first_relevant_rank() -> None:
    assert mrr_at_k(["x", "y", "a", "b"], {"a", "b"}) == pytest.approx(1 / 3)
    assert mrr_at_k(["a"], {"a"}) == 1.0
    assert mrr_at_k(["x", "y"], {"a"}) == 0.0
    assert mrr_at_k(["x", "y", "a"], {"a"}, k=2) == 0.0


def test_recall_share_of_relevant_found() -> None:
    assert recall_at_k(["a", "x", "b"], {"a", "b", "c", "d"}) == 0.5
    assert recall_at_k(["x", "a", "b"], {"a", "b"}, k=2) == 0.5
    assert recall_at_k(["a", "a", "a"], {"a", "b"}) == 0.5
    assert recall_at_k(["a"], set()) == 0.0


def test_hit_at_k() -> None:
    assert hit_at_k(["x", "a"], {"a"}, k=1) == 0.0
    assert hit_at_k(["x", "a"], {"a"}, k=2) == 1.0
    assert hit_at_k([], {"a"}, k=10) == 0.0
    with pytest.raises(ValueError):
        hit_at_k(["a"], {"a"}, k=0)


# --- percentile, summarize --------------------------------------------------------------------


def test_percentile_known_values() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([1.0, 2.0, 3.0, 4.0], 95) == pytest.approx(3.85)
    assert percentile([4.0, 1.0, 3.0, 2.0], 0) == 1.0
    assert percentile([4.0, 1.0, 3.0, 2.0], 100) == 4.0
    assert percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [0, 1, 25, 50, 66.6, 90, 95, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    values = [12.5, 3.0, 8.25, 40.0, 3.0, 17.75, 0.5, 22.0, 9.0, 11.0, 5.5]
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_rejects_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)
    with pytest.raises(ValueError, match="q must be"):
        percentile([1.0], 101)


def test_summarize_means_each_key_over_queries_that_have_it() -> None:
    rows = [
        {"ndcg@10": 1.0, "hit@1": 1.0, "compliance": 0.5},
        {"ndcg@10": 0.5, "hit@1": 0.0},
        {"ndcg@10": 0.0, "hit@1": 0.0, "compliance": 1.0},
    ]
    assert summarize(rows) == {
        "compliance": pytest.approx(0.75),
        "hit@1": pytest.approx(1 / 3),
        "ndcg@10": pytest.approx(0.5),
    }
    assert summarize([]) == {}
