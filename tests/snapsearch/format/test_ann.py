"""The ANN seam: one conformance body over hnsw and exact; recall of hnsw against exact."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from snapsearch.format.ann import AnnIndex, ExactIndex, HnswIndex, exact_topk, recall_at_k
from snapsearch.format.manifest import HnswSettings

DIM = 32
SETTINGS = HnswSettings()


def unit_vectors(n: int, dim: int = DIM, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _exact(vectors: np.ndarray) -> AnnIndex:
    return ExactIndex(vectors)


def _hnsw(vectors: np.ndarray) -> AnnIndex:
    return HnswIndex.build(vectors, SETTINGS)


BACKENDS: dict[str, Callable[[np.ndarray], AnnIndex]] = {"exact": _exact, "hnsw": _hnsw}


@pytest.fixture(params=sorted(BACKENDS))
def make_index(request) -> Callable[[np.ndarray], AnnIndex]:
    return BACKENDS[request.param]


@pytest.fixture(scope="module")
def vectors() -> np.ndarray:
    return unit_vectors(500)


# -- conformance: every backend -------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 5, 10, 50])
def test_query_shape_and_order(make_index, vectors, k):
    index = make_index(vectors)
    assert len(index) == 500
    q = unit_vectors(1, seed=99)[0]
    pos, sims = index.query(q, k)
    assert len(pos) == len(sims) == k
    assert pos.dtype == np.int64 and sims.dtype == np.float32
    assert len(set(pos.tolist())) == k
    assert ((pos >= 0) & (pos < 500)).all()
    assert (np.diff(sims) <= 1e-6).all(), "similarities must be sorted descending"
    # reported similarities are the true inner products
    np.testing.assert_allclose(sims, vectors[pos] @ q, atol=1e-5)


def test_self_query_returns_itself_first(make_index, vectors):
    index = make_index(vectors)
    for i in (0, 123, 499):
        pos, sims = index.query(vectors[i], 5)
        assert pos[0] == i
        assert sims[0] == pytest.approx(1.0, abs=1e-5)


def test_k_larger_than_the_index(make_index):
    small = unit_vectors(7, seed=3)
    index = make_index(small)
    pos, sims = index.query(small[2], 50)
    assert len(index) == 7
    assert sorted(pos.tolist()) == list(range(7))
    assert len(sims) == 7
    assert pos[0] == 2


def test_k_zero(make_index, vectors):
    pos, sims = make_index(vectors).query(vectors[0], 0)
    assert pos.shape == sims.shape == (0,)


def test_empty_index(make_index):
    index = make_index(np.empty((0, DIM), dtype=np.float32))
    assert len(index) == 0
    pos, sims = index.query(unit_vectors(1)[0], 10)
    assert pos.shape == (0,) and sims.shape == (0,)
    assert pos.dtype == np.int64 and sims.dtype == np.float32


def test_single_vector_index(make_index):
    one = unit_vectors(1, seed=5)
    pos, sims = make_index(one).query(one[0], 3)
    assert pos.tolist() == [0]
    assert sims[0] == pytest.approx(1.0, abs=1e-5)


# -- hnsw against exact -----------------------------------------------------------------------
def test_hnsw_recall_against_exact(vectors):
    queries = unit_vectors(100, seed=11)
    recall = recall_at_k(HnswIndex.build(vectors, SETTINGS), ExactIndex(vectors), queries, k=10)
    assert recall >= 0.98


def test_recall_of_exact_against_itself_is_one(vectors):
    exact = ExactIndex(vectors)
    assert recall_at_k(exact, exact, unit_vectors(20, seed=2), k=10) == 1.0
    assert recall_at_k(exact, exact, np.empty((0, DIM), np.float32)) == 1.0


def test_recall_detects_a_bad_index(vectors):
    class Wrong:
        def __len__(self) -> int:
            return 500

        def query(self, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
            return exact_topk(-vectors, vector, k)  # the farthest rows, not the nearest

    assert recall_at_k(Wrong(), ExactIndex(vectors), unit_vectors(20, seed=4), k=10) < 0.1


def test_hnsw_small_index_returns_exactly_what_exact_does():
    small = unit_vectors(40, seed=8)
    hnsw, exact = HnswIndex.build(small, SETTINGS), ExactIndex(small)
    for q in unit_vectors(10, seed=9):
        hp, hs = hnsw.query(q, 10)
        ep, es = exact.query(q, 10)
        assert hp.tolist() == ep.tolist()
        np.testing.assert_allclose(hs, es, atol=1e-5)


# -- exact_topk -------------------------------------------------------------------------------
def test_exact_topk_restricted_to_rows(vectors):
    rows = np.arange(3, 500, 7)
    q = vectors[0]  # row 0 is not allowed, so it must not come back
    pos, sims = exact_topk(vectors, q, 10, rows=rows)
    assert len(pos) == 10
    assert set(pos.tolist()) <= set(rows.tolist())
    assert 0 not in pos.tolist()
    brute = rows[np.argsort(-(vectors[rows] @ q), kind="stable")[:10]]
    assert pos.tolist() == brute.tolist()
    np.testing.assert_allclose(sims, vectors[pos] @ q, atol=1e-6)


def test_exact_topk_rows_fewer_than_k(vectors):
    rows = np.array([5, 9, 400])
    pos, _ = exact_topk(vectors, vectors[9], 10, rows=rows)
    assert sorted(pos.tolist()) == [5, 9, 400]
    assert pos[0] == 9
    pos, sims = exact_topk(vectors, vectors[9], 10, rows=np.array([], dtype=np.int64))
    assert pos.shape == sims.shape == (0,)


def test_exact_ties_break_by_position():
    vecs = np.tile(unit_vectors(1, seed=1), (6, 1))
    pos, _ = exact_topk(vecs, vecs[0], 4)
    assert pos.tolist() == [0, 1, 2, 3]


# -- persistence ------------------------------------------------------------------------------
def test_hnsw_save_and_load_give_identical_results(tmp_path, vectors):
    built = HnswIndex.build(vectors, SETTINGS)
    path = tmp_path / "ann.hnsw"
    built.save(path)
    loaded = HnswIndex.load(path, DIM, len(vectors), SETTINGS)
    assert len(loaded) == len(built)
    for q in unit_vectors(25, seed=12):
        bp, bs = built.query(q, 10)
        lp, ls = loaded.query(q, 10)
        assert bp.tolist() == lp.tolist()
        np.testing.assert_array_equal(bs, ls)


def test_hnsw_build_is_deterministic(tmp_path, vectors):
    a, b = tmp_path / "a.hnsw", tmp_path / "b.hnsw"
    HnswIndex.build(vectors, SETTINGS).save(a)
    HnswIndex.build(vectors, SETTINGS).save(b)
    assert a.read_bytes() == b.read_bytes()


def antipodal_clusters(n: int) -> np.ndarray:
    """``n`` copies of one unit vector and ``n`` copies of its opposite: two unlinked graphs."""
    v = unit_vectors(1, dim=16, seed=0)
    return np.vstack([np.tile(v, (n, 1)), -np.tile(v, (n, 1))])


@pytest.mark.parametrize("backend", ["exact", "hnsw"])
def test_k_covering_the_index_returns_everything_even_when_the_graph_is_split(backend):
    vecs = antipodal_clusters(300)
    index = ExactIndex(vecs) if backend == "exact" else HnswIndex.build(vecs, SETTINGS)
    pos, _ = index.query(vecs[0], len(vecs))
    assert len(pos) > 0, "a full-index query must not look like 'no match'"
    assert sorted(pos.tolist()) == list(range(len(vecs)))


def test_split_graph_without_an_exact_twin_returns_what_hnsw_reaches(tmp_path):
    vecs = antipodal_clusters(300)
    path = tmp_path / "ann.hnsw"
    HnswIndex.build(vecs, SETTINGS).save(path)
    index = HnswIndex.load(path, vecs.shape[1], len(vecs), SETTINGS)  # no exact twin
    pos, sims = index.query(vecs[0], len(vecs))
    assert 0 < len(pos) < len(vecs), "the rows hnswlib reaches, not nothing"
    assert len(set(pos.tolist())) == len(pos)
    np.testing.assert_allclose(sims[0], 1.0, atol=1e-5)
