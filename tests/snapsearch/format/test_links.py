"""The store's links: reading current/previous, resolve_current, the atomic flip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from snapsearch.format import layout, links
from snapsearch.format.errors import StoreError

A = "20261120T100000000000Z-aaaaaaaa"
B = "20261121T100000000000Z-bbbbbbbb"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    r = tmp_path / "snapshots"
    r.mkdir()
    for sid in (A, B):
        (r / sid).mkdir()
    return r


def temp_entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(layout.TMP_PREFIX))


def test_empty_store_has_no_links(root: Path, tmp_path: Path) -> None:
    assert (links.current_id(root), links.previous_id(root)) == (None, None)
    assert links.current_dir(root) is None
    assert links.current_id(tmp_path / "no-such-store") is None


def test_flip_makes_a_relative_symlink_to_the_id(root: Path) -> None:
    links.flip(root, layout.CURRENT, A)
    link = root / layout.CURRENT
    assert link.is_symlink() and os.readlink(link) == A
    assert links.current_id(root) == A
    assert links.current_dir(root) == links.resolve_current(root) == (root / A).resolve()
    assert temp_entries(root) == []


def test_flip_replaces_an_existing_link(root: Path) -> None:
    links.flip(root, layout.CURRENT, A)
    links.flip(root, layout.CURRENT, B)
    assert links.current_id(root) == B
    assert temp_entries(root) == []


def test_flip_refuses_a_name_that_is_not_a_link(root: Path) -> None:
    with pytest.raises(ValueError, match="not a store link"):
        links.flip(root, "latest", A)
    assert not (root / "latest").exists()


def test_interrupted_flip_keeps_the_old_link_and_no_temp(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    links.flip(root, layout.CURRENT, A)

    def crash(_src: object, _dst: object) -> None:
        raise OSError("simulated crash")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        links.flip(root, layout.CURRENT, B)
    monkeypatch.undo()
    assert links.current_id(root) == A
    assert temp_entries(root) == []


def test_move_current_keeps_the_old_one_as_previous(root: Path) -> None:
    links.move_current(root, None, A)
    assert (links.current_id(root), links.previous_id(root)) == (A, None)
    links.move_current(root, A, B)
    assert (links.current_id(root), links.previous_id(root)) == (B, A)
    links.move_current(root, B, B)  # the same id again: previous stays
    assert (links.current_id(root), links.previous_id(root)) == (B, A)


def test_move_current_flips_previous_first(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    links.move_current(root, None, A)
    order: list[str] = []
    real_flip = links.flip

    def recording_flip(r: Path, name: str, sid: str) -> None:
        order.append(name)
        real_flip(r, name, sid)

    monkeypatch.setattr(links, "flip", recording_flip)
    links.move_current(root, A, B)
    assert order == [layout.PREVIOUS, layout.CURRENT]


@pytest.mark.parametrize("target", ["elsewhere", "/abs/" + A, "../" + A])
def test_link_that_is_not_a_snapshot_id_is_an_error(root: Path, target: str) -> None:
    os.symlink(target, root / layout.PREVIOUS)
    with pytest.raises(StoreError, match="not at a snapshot id") as err:
        links.previous_id(root)
    assert err.value.fix and "snapsearch rollback" in err.value.fix


def test_link_that_is_not_a_symlink_is_an_error(root: Path) -> None:
    (root / layout.CURRENT).mkdir()
    with pytest.raises(StoreError, match="is not a symlink"):
        links.current_id(root)


def test_resolve_current_without_a_published_snapshot(root: Path) -> None:
    with pytest.raises(StoreError, match="no published snapshot") as err:
        links.resolve_current(root)
    assert str(root / layout.CURRENT) in str(err.value)
    assert err.value.fix == "build and publish one with `snapsearch run`"


def test_dangling_current_is_not_a_published_snapshot(root: Path) -> None:
    os.symlink("20240101T000000000000Z-deadbeef", root / layout.CURRENT)  # target removed
    assert links.current_dir(root) is None
    with pytest.raises(StoreError, match="no published snapshot"):
        links.resolve_current(root)


def test_flip_leftovers_are_recognised(root: Path) -> None:
    leftover = root / f"{links.LINK_TMP_PREFIX}current-0123"
    os.symlink(A, leftover)
    other = root / f"{layout.TMP_PREFIX}{B}"
    other.mkdir()
    assert links.is_flip_leftover(leftover)
    assert not links.is_flip_leftover(other)
    assert not links.is_flip_leftover(root / A)
