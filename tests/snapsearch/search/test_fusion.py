"""Score fusion: min-max / z-score convex combination and reciprocal rank fusion, into [0, 1]."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pytest

from snapsearch.search.fusion import convex, minmax, rrf, zscore

DENSE = {1: 0.91, 2: 0.40, 3: 0.75, 4: 0.10, 5: 0.55}
LEXICAL = {1: 2.0, 2: 14.5, 3: 7.25, 4: 11.0, 5: 0.5}
NORMALIZATIONS = ["minmax", "zscore"]
Norm = Callable[[Mapping[int, float]], dict[int, float]]


def order(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda k: -scores[k])


# -- minmax / zscore ---------------------------------------------------------------------------


def test_minmax_scales_to_unit_interval() -> None:
    assert minmax({1: 2.0, 2: 4.0, 3: 3.0}) == {1: 0.0, 2: 1.0, 3: 0.5}


def test_zscore_standardises() -> None:
    z = zscore({1: 1.0, 2: 3.0})

    assert z == pytest.approx({1: -1.0, 2: 1.0})


@pytest.mark.parametrize(("norm", "equal"), [(minmax, 1.0), (zscore, 0.0)])
def test_all_equal_scores(norm: Norm, equal: float) -> None:
    assert norm({1: 0.3, 2: 0.3, 3: 0.3}) == {1: equal, 2: equal, 3: equal}


@pytest.mark.parametrize("norm", [minmax, zscore])
def test_empty_scores(norm: Norm) -> None:
    assert norm({}) == {}


# -- convex ------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.5, 1.0])
def test_convex_lies_in_unit_interval(normalization: str, alpha: float) -> None:
    fused = convex(DENSE, LEXICAL, alpha, normalization)

    assert set(fused) == set(DENSE)
    assert all(0.0 <= v <= 1.0 for v in fused.values())


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
@pytest.mark.parametrize(("alpha", "alone"), [(1.0, DENSE), (0.0, LEXICAL)])
def test_convex_alpha_extremes_keep_one_retrievers_order(
    normalization: str, alpha: float, alone: dict[int, float]
) -> None:
    assert order(convex(DENSE, LEXICAL, alpha, normalization)) == order(alone)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_convex_all_equal_scores_fuse_to_one(normalization: str) -> None:
    fused = convex({1: 0.5, 2: 0.5}, {1: 3.0, 2: 3.0}, 0.5, normalization)

    assert fused == {1: 1.0, 2: 1.0}


def test_convex_minmax_missing_subscore_counts_zero() -> None:
    fused = convex({1: 0.9, 2: 0.1}, {3: 2.0, 1: 1.0}, 0.5, "minmax")

    assert fused == pytest.approx({1: 0.5, 2: 0.0, 3: 0.5})


def test_convex_zscore_missing_lexical_counts_as_the_lowest_seen() -> None:
    fused = convex({1: 0.9, 2: 0.5, 3: 0.1}, {1: 3.0, 2: 1.0}, 0.0, "zscore")

    assert fused == pytest.approx({1: 1.0, 2: 0.0, 3: 0.0})


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_convex_no_lexical_hits_keeps_dense_order(normalization: str) -> None:
    fused = convex(DENSE, {}, 0.5, normalization)

    assert order(fused) == order(DENSE)
    assert all(0.0 <= v <= 1.0 for v in fused.values())


# -- rrf ---------------------------------------------------------------------------------------


def test_rrf_rank_one_in_both_scores_one() -> None:
    fused = rrf([7, 8, 9], [7, 9, 8], k=60)

    assert fused[7] == pytest.approx(1.0)
    assert all(0.0 <= v <= 1.0 for v in fused.values())


def test_rrf_present_in_one_list_only_scores_half_at_most() -> None:
    fused = rrf([1, 2], [3], k=60)

    assert fused[1] == pytest.approx(0.5)
    assert fused[3] == pytest.approx(0.5)
    assert fused[2] < 0.5


def test_rrf_orders_by_summed_reciprocal_rank() -> None:
    fused = rrf([1, 2, 3, 4], [4, 3, 1, 2], k=1)

    # 1: 1/2 + 1/4, 2: 1/3 + 1/5, 3: 1/4 + 1/3, 4: 1/5 + 1/2
    assert order(fused) == [1, 4, 3, 2]


def test_rrf_empty() -> None:
    assert rrf([], [], k=60) == {}
