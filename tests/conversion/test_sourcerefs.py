"""Sources kept as columns: the same records back, the same run-state keys as a plain list."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

from jasmin_access.conversion import runstate
from jasmin_access.conversion.runstate import load_scan, save_scan, scan_key
from jasmin_access.conversion.scan import scan
from jasmin_access.conversion.sourcerefs import SourceList, SourceRef, as_source_list, pick
from jasmin_access.conversion.sources import expand_sources
from jasmin_access.stores import resolve


def _refs(tmp_path: Path) -> list[SourceRef]:
    local = resolve(str(tmp_path)).backend
    s3 = resolve("s3://bucket/key.nc", profile=None, anon=True).backend
    return [
        SourceRef("s3://bucket/a/x_001.nc", s3, "bucket/a/x_001.nc", 12, 1.7e9 + 0.25, "9f" * 16),
        SourceRef("s3://bucket/a/x_002.nc", s3, "bucket/a/x_002.nc", 0, None, None),
        SourceRef(str(tmp_path / "é ü.nc"), local, str(tmp_path / "é ü.nc"), 3, 5.0, "ab-3"),
        SourceRef("rel/\udcff.nc", local, "/abs/rel/\udcff.nc", 2**40, -1.5, ""),  # not prefix+path
        SourceRef("s3://bucket/b/y.nc", None, "bucket/b/y.nc", 1, 0.0, None),
    ]


def test_a_source_list_gives_back_every_record_exactly(tmp_path: Path) -> None:
    refs = _refs(tmp_path)
    cols = SourceList(refs)
    assert len(cols) == len(refs)
    assert list(cols) == refs and cols == refs
    assert [cols[i] for i in range(-len(refs), 0)] == refs
    assert cols[1:4] == refs[1:4] and cols[::-1] == refs[::-1]
    assert list(cols.urls()) == [r.url for r in refs]
    assert all(type(r.mtime) is type(w.mtime) for r, w in zip(cols, refs, strict=True))
    assert cols[0].backend is refs[0].backend and cols[4].backend is None
    assert pickle.loads(pickle.dumps(cols)) == refs
    assert as_source_list(cols) is cols and (cols + refs[:1])[-1] == refs[0]
    try:
        cols[len(refs)]
    except IndexError:
        pass
    else:
        raise AssertionError("an index past the end must raise IndexError")


def test_expanded_sources_are_columns(nemo_files: list[Path]) -> None:
    refs = expand_sources([str(f) for f in nemo_files])
    assert isinstance(refs, SourceList)
    assert [r.path for r in refs] == [str(f) for f in nemo_files]
    assert [r.size for r in refs] == [f.stat().st_size for f in nemo_files]


def test_a_run_state_saved_from_a_plain_list_is_resumed(
    nemo_files: list[Path], tmp_path: Path
) -> None:
    """Earlier versions kept one record per source: their run state has the same key and reads."""
    cols = expand_sources([str(f) for f in nemo_files])
    plain = list(cols)  # what an earlier version kept and saved
    loc = resolve(str(tmp_path / "out.zarr"), write=True)
    key = scan_key(plain, {})
    save_scan(loc.fs, loc.path, key, scan(plain))
    assert scan_key(cols, {}) == key
    back = load_scan(loc.fs, loc.path, key, cols)
    assert back is not None and back.cached
    assert isinstance(back.sources, SourceList) and back.sources == plain


def test_a_run_state_of_an_older_format_is_rescanned(
    nemo_files: list[Path], tmp_path: Path
) -> None:
    refs = expand_sources([str(f) for f in nemo_files])
    loc = resolve(str(tmp_path / "out.zarr"), write=True)
    key = scan_key(refs, {})
    save_scan(loc.fs, loc.path, key, scan(refs))
    path = loc.path.rstrip("/") + "/" + runstate.SCAN
    data = json.loads(loc.fs.cat_file(path))
    data["version"] -= 1
    loc.fs.pipe_file(path, json.dumps(data).encode())
    assert load_scan(loc.fs, loc.path, key, refs) is None  # ignored: the sources are scanned again


def test_picked_sources_follow_the_numbers(tmp_path: Path) -> None:
    refs = _refs(tmp_path)
    some = pick(SourceList(refs), [3, 0, 3])
    assert len(some) == 3 and list(some) == [refs[3], refs[0], refs[3]]
    assert some[1] == refs[0] and some[-1] == refs[3] and some[:2] == [refs[3], refs[0]]
    assert SourceList(some) == [refs[3], refs[0], refs[3]]


def test_two_lines_naming_one_file_give_one_source(nemo_files: list[Path], tmp_path: Path) -> None:
    first = nemo_files[0]
    listing = tmp_path / "list.txt"
    other = f"{first.parent}/./{first.name}"
    listing.write_text(f"{first}\n{other}\n{nemo_files[1]}\n")
    refs = expand_sources(f"@{listing}")
    assert [r.path for r in refs] == [str(first), str(nemo_files[1])]


def test_the_plan_digest_is_the_one_of_the_whole_json(tmp_path: Path) -> None:
    """Hashed a source at a time, the digest stays the one older runs recorded."""
    import hashlib

    from jasmin_access.conversion.plan import ConvertOptions, plan_digest

    options = ConvertOptions(chunks={"time_counter": 3}).to_dict()
    for refs in (_refs(tmp_path), _refs(tmp_path)[:1], []):
        for head in ({"options": options, "layout": {"a/b": [[1, 2], None]}}, {}):
            payload = {"sources": [[r.url, r.size, r.mtime] for r in refs], **head}
            whole = json.dumps(payload, sort_keys=True, default=str).encode()
            assert plan_digest(SourceList(refs), head) == hashlib.sha256(whole).hexdigest()


def test_a_backend_is_never_taken_for_another_that_reuses_its_id(tmp_path: Path) -> None:
    refs = _refs(tmp_path)
    restored = pickle.loads(pickle.dumps(SourceList(refs)))  # keeps the ids of the old objects
    other = resolve(str(tmp_path / "other")).backend
    prefix = str(tmp_path / "other")[: -len("other")]
    # as if ``other`` had been made where a backend of the pickled list once lived
    restored._kind_of[(id(other), "")] = 0
    restored._kind_of[(id(other), prefix)] = 0
    where = str(tmp_path / "other")
    restored.append(SourceRef(where, other, where, 1, 1.0, None))
    assert restored[-1].backend is other and restored[0].backend is not other


def test_copies_and_picks_hold_their_own_sources(tmp_path: Path) -> None:
    import copy

    refs = _refs(tmp_path) * 200
    cols = SourceList(refs)
    twin = copy.copy(cols)
    twin.append(refs[0])
    assert len(cols) == len(refs) and len(twin) == len(refs) + 1
    picked = pick(cols, [3, 0])
    again = pickle.loads(pickle.dumps(picked))
    assert list(again) == [refs[3], refs[0]]
    assert len(pickle.dumps(picked)) * 20 < len(pickle.dumps(cols))  # not the whole base
