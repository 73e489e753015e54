"""Verification: the manifest's seal and snapshot id, every file it lists (size always, sha256
when asked), nothing else in the directory, and the gate report beside it.

``gates`` says what is asked of the gate report (``<root>/_gates/<id>.json``):

- ``"ignore"``: not looked at (the integrity gate, before there is a report);
- ``"if_present"``: a report that exists must be sealed, for this snapshot and for these
  manifest bytes (opening a snapshot to evaluate it);
- ``"passed"``: it must exist, be sound and have passed (serve, rollback, ``snapsearch verify``).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from . import layout
from .errors import GateError, IntegrityError
from .gates import GateReport, gate_report_path, load_gate_report
from .hashing import sha256_file
from .manifest import Manifest, read_manifest

GateCheck = Literal["ignore", "if_present", "passed"]
_HASH_THREADS = 4
_REFUSE = "rebuild it with `snapsearch run --force` (snapshots are immutable: never edit one)"


def _files(snapshot_dir: Path) -> list[str]:
    """Every file and directory under the snapshot, as relative posix paths (sorted)."""
    return sorted(p.relative_to(snapshot_dir).as_posix() for p in snapshot_dir.rglob("*"))


# -- digests ---------------------------------------------------------------------------------
# A file is known by its identity and its stat: an immutable snapshot's file hashed earlier in
# this process (``prehash``) is not read again while its inode, size and times are unchanged.
_StatKey = tuple[str, int, int, int, int, int]
_early: dict[_StatKey, Future[str]] = {}
_early_lock = threading.Lock()


def _stat_key(path: Path) -> _StatKey:
    st = path.stat()
    return (str(path.resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
            st.st_ctime_ns)


def _hash_if_unchanged(path: Path, key: _StatKey) -> str:
    digest = sha256_file(path)
    if _stat_key(path) != key:  # it changed while being read: this digest proves nothing
        raise OSError(f"{path} changed while it was hashed")
    return digest


def prehash(snapshot_dir: Path) -> None:
    """Start hashing every file of ``snapshot_dir`` in a background thread (largest first), so
    that a later ``verify_snapshot(..., checksums=True)`` in this process takes the digests
    instead of reading the files then: a server starts it before importing its web stack,
    which then overlaps the ~250 MB of hashing on a second core. Verification stays the same:
    each digest is of the file's bytes, taken while the file kept its identity and stat."""
    try:
        files = [p for p in Path(snapshot_dir).resolve().iterdir()
                 if p.is_file() and not p.is_symlink()]
        keyed = sorted(((p, _stat_key(p)) for p in files), key=lambda pk: -pk[1][3])
    except OSError:
        return  # verification will say what is wrong
    pool = ThreadPoolExecutor(1, thread_name_prefix="snapsearch-prehash")
    with _early_lock:
        for path, key in keyed:
            if key not in _early:
                _early[key] = pool.submit(_hash_if_unchanged, path, key)
    pool.shutdown(wait=False)


def _digest(path: Path) -> str:
    """sha256 of ``path``: the one ``prehash`` took, when the file is unchanged since."""
    try:
        key = _stat_key(path)
    except OSError:
        key = None
    if key is not None:
        with _early_lock:
            early = _early.pop(key, None)
        # not started yet: hashed here, beside the others, instead of waiting in its queue
        if early is not None and not early.cancel():
            try:
                return early.result()
            except OSError:
                pass
    return sha256_file(path)


def _digests(paths: list[Path]) -> list[str]:
    """sha256 of each file, several at once (hashlib lets go of the GIL while it hashes: a
    server's start verifies ~250 MB in about half the time on two cores)."""
    if len(paths) < 2:
        return [_digest(p) for p in paths]
    with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1, _HASH_THREADS)) as pool:
        return list(pool.map(_digest, paths))


def find_problems(snapshot_dir: Path, manifest: Manifest, *, checksums: bool) -> list[str]:
    problems: dict[str, str] = {}
    to_hash: list[str] = []
    for name, entry in sorted(manifest.files.items()):
        p = snapshot_dir / name
        if not p.is_file() or p.is_symlink():
            problems[name] = f"{name}: missing"
            continue
        size = p.stat().st_size
        if size != entry.bytes:
            problems[name] = f"{name}: {size} bytes, manifest says {entry.bytes}"
            continue
        if checksums:
            to_hash.append(name)
    # largest first: the threads finish together
    to_hash.sort(key=lambda n: -manifest.files[n].bytes)
    for name, digest in zip(to_hash, _digests([snapshot_dir / n for n in to_hash]), strict=True):
        if digest != manifest.files[name].sha256:
            problems[name] = f"{name}: sha256 differs from the manifest"
    problems_list = [problems[n] for n in sorted(problems)]
    listed = set(manifest.files) | {layout.MANIFEST, layout.SEAL}
    parents = {q.as_posix() for n in listed for q in Path(n).parents} - {"."}
    for name in _files(snapshot_dir):
        if name not in listed and name not in parents:
            problems_list.append(f"{name}: not in the manifest")
    return problems_list


def check_gate_report(
    snapshot_dir: Path, manifest_sha256: str, *, passed: bool
) -> GateReport | None:
    """The snapshot's gate report, checked: sealed, for this snapshot and these manifest bytes;
    with ``passed``, it must exist and have passed. GateError naming the file otherwise."""
    path = gate_report_path(snapshot_dir)
    report = load_gate_report(snapshot_dir)
    sid = snapshot_dir.resolve().name
    if report is None:
        if passed:
            raise GateError(
                f"snapshot {sid} has no gate report ({path} is missing): its gates never ran",
                fix="run `snapsearch run --force` to build and validate a snapshot",
            )
        return None
    if report.manifest_sha256 != manifest_sha256:
        raise GateError(
            f"gate report {path} judged other manifest bytes than {sid}'s",
            fix="run the validate stage again (`snapsearch run --force`)",
        )
    if passed and not report.passed:
        failed = sorted(
            n for n, g in report.gates.items() if not g.passed and g.severity == "ERROR"
        )
        raise GateError(
            f"snapshot {sid} failed its gates ({', '.join(failed)}; see {path})",
            fix="publish only snapshots whose gates passed",
        )
    return report


def verify_snapshot(
    snapshot_dir: Path, *, checksums: bool = True, gates: GateCheck = "if_present"
) -> Manifest:
    """Raise a SnapshotError (naming the snapshot and each problem) unless the snapshot is sound:
    IntegrityError for its files and seal, ManifestError for an unreadable manifest, GateError
    for its gate report (see ``gates``)."""
    manifest = read_manifest(snapshot_dir)  # checks the seal and the snapshot id
    problems = find_problems(snapshot_dir, manifest, checksums=checksums)
    if problems:
        raise IntegrityError(
            f"snapshot {snapshot_dir} failed verification: " + "; ".join(problems),
            fix=_REFUSE,
        )
    if gates != "ignore":
        check_gate_report(
            snapshot_dir, sha256_file(snapshot_dir / layout.MANIFEST), passed=gates == "passed"
        )
    return manifest
