"""Key arithmetic: examples, then property tests over arbitrary key names and globs."""

from __future__ import annotations

import fnmatch
import re
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jasmin_access import paths
from jasmin_access.errors import InvalidInput

# --------------------------------------------------------------------------- examples


def test_join_parent_basename_examples() -> None:
    assert paths.join("bucket", "run1/", "/a.nc") == "bucket/run1/a.nc"
    assert paths.join("bucket", "run1/") == "bucket/run1/"
    assert paths.join("", "a", "") == "a"
    assert paths.join() == ""
    assert paths.as_dir("run1") == "run1/" and paths.as_dir("run1//") == "run1/"
    assert paths.as_dir("") == ""
    assert paths.parent("bucket/run1/a.nc") == "bucket/run1"
    assert paths.parent("a.nc") == ""
    assert paths.basename("bucket/run1/") == "run1"


def test_prefix_boundaries() -> None:
    assert paths.is_within("b/run1", "b/run1/x.nc")
    assert paths.is_within("b/run1/", "b/run1")
    assert not paths.is_within("b/run1", "b/run10/x.nc")
    assert not paths.is_within("b/run1", "b/run1.nc")
    assert paths.is_within("", "anything")
    assert paths.relative("b/run1", "b/run1/sub/a.nc") == "sub/a.nc"
    assert paths.relative("b/run1", "b/run1") == ""
    with pytest.raises(ValueError):
        paths.relative("b/run1", "b/run10/a.nc")


def test_split_bucket() -> None:
    assert paths.split_bucket("bucket/run1/a.nc") == ("bucket", "run1/a.nc")
    assert paths.split_bucket("/bucket") == ("bucket", "")
    assert paths.split_bucket("") == ("", "")


@pytest.mark.parametrize(
    "key",
    ["..", "../x", "a/../../x", "a/./b", "/etc/passwd", "a\\..\\b", "a\x00b", "a/.."],
)
def test_validate_key_rejects_escapes(key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        paths.validate_key(key)
    assert "\n" not in str(info.value) and info.value.hint


@pytest.mark.parametrize(
    "key", ["", "a", "a/b.nc", "..a/b..", "%2e%2e/x", "a b/ü+%.nc", "...", ".a"]
)
def test_validate_key_accepts_names(key: str) -> None:
    assert paths.validate_key(key) == key


def test_glob_examples() -> None:
    assert paths.glob_base("bucket/run*/2020/*.nc") == "bucket"
    assert paths.glob_base("bucket/run1/*.nc") == "bucket/run1"
    assert paths.glob_base("bucket/run1/") == "bucket/run1"
    assert paths.glob_base("*.nc") == ""
    assert paths.has_magic("a[12].nc") and not paths.has_magic("a+b%.nc")
    assert paths.match_glob("b/*.nc", "b/x.nc")
    assert not paths.match_glob("b/*.nc", "b/sub/x.nc")
    assert paths.match_glob("b/x?.nc", "b/x1.nc") and not paths.match_glob("b/x?.nc", "b/x/.nc")
    assert paths.match_glob("b/[!a]*", "b/bc") and not paths.match_glob("b/[!a]*", "b/ac")
    assert paths.match_glob("b/a+b (1).nc", "b/a+b (1).nc")
    assert not paths.match_glob("b/a.nc", "b/aXnc")


@pytest.mark.parametrize(
    ("pattern", "key", "expected"),
    [
        ("b/**/x.nc", "b/x.nc", True),
        ("b/**/x.nc", "b/1/2/3/x.nc", True),
        ("b/**/x.nc", "b/1/2/3/yx.nc", False),
        ("b/**", "b/1/2/x.nc", True),
        ("b/**", "c/x.nc", False),
        ("**/x.nc", "x.nc", True),
        ("**/x.nc", "a/b/x.nc", True),
        ("**", "a/b/c", True),
        ("b/run**", "b/run1/x.nc", False),  # ** inside a name is a plain *
        ("b/run**", "b/run12", True),
        ("b/**/*.nc", "b/r/a.nc", True),
        ("b/**/*.nc", "b/r/a.zarr", False),
    ],
)
def test_double_star(pattern: str, key: str, expected: bool) -> None:
    assert paths.match_glob(pattern, key) is expected


@pytest.mark.parametrize(
    ("pattern", "matches", "misses"),
    [
        ("[z-a]x", [], ["ax", "zx", "x"]),
        ("[!]a]", ["b", "-"], ["]", "a"]),
        ("[]a]", ["]", "a"], ["b"]),
        ("[[]", ["["], ["]"]),
        ("[a&&b]", ["a", "&", "b"], ["c"]),
        ("[a-]", ["a", "-"], ["b"]),
        ("x[", ["x["], ["x"]),
        ("[^a]", ["^", "a"], ["b"]),
    ],
)
def test_bracket_edge_cases(pattern: str, matches: list[str], misses: list[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "possible nested set" FutureWarnings
        regex = paths.glob_to_regex(pattern)
    for key in matches:
        assert regex.match(key), key
    for key in misses:
        assert not regex.match(key), key


def test_natural_sort() -> None:
    names = ["f10.nc", "f2.nc", "f1.nc", "g.nc", "f1a.nc"]
    assert paths.natural_sorted(names) == ["f1.nc", "f1a.nc", "f2.nc", "f10.nc", "g.nc"]


# --------------------------------------------------------------------------- properties

component = st.text(
    alphabet=st.characters(blacklist_characters="/\\\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=12,
).filter(lambda c: c not in (".", ".."))
keys = st.lists(component, min_size=1, max_size=5).map("/".join)
glob_chars = st.sampled_from([*list("ab-]![*?^\\&~|.+z"), "**", "[a-c]", "[!b]"])
flat_patterns = st.lists(glob_chars, max_size=10).map("".join)
flat_keys = st.text(alphabet="ab-]![*?^\\&~|.+zc", max_size=8)


@given(bucket=component, key=keys)
def test_join_split_round_trip(bucket: str, key: str) -> None:
    assert paths.split_bucket(paths.join(bucket, key)) == (bucket, key)
    assert paths.validate_key(key) == key


@given(left=keys, right=st.text(st.characters(blacklist_characters="\x00"), max_size=5))
def test_backslashes_are_refused(left: str, right: str) -> None:
    with pytest.raises(InvalidInput, match="backslash"):
        paths.validate_key(f"{left}\\{right}")


@given(key=keys)
def test_parent_basename_round_trip(key: str) -> None:
    assert paths.join(paths.parent(key), paths.basename(key)) == key
    assert paths.is_within(paths.parent(key), key)
    assert paths.relative(paths.parent(key), key) == paths.basename(key)


@given(prefix=keys, name=component, suffix=component, rest=keys)
def test_is_within_respects_component_boundaries(
    prefix: str, name: str, suffix: str, rest: str
) -> None:
    inside = paths.join(prefix, name, rest)
    assert paths.is_within(paths.join(prefix, name), inside)
    assert paths.relative(paths.join(prefix, name), inside) == rest
    # "run1" never contains "run1X/...", whatever X is
    assert not paths.is_within(paths.join(prefix, name), paths.join(prefix, name + suffix, rest))


@settings(max_examples=200)
@given(pattern=st.text(max_size=20))
def test_glob_to_regex_never_crashes(pattern: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regex = paths.glob_to_regex(pattern)
    assert isinstance(regex, re.Pattern)
    paths.glob_base(pattern)
    if not paths.has_magic(pattern):
        assert paths.match_glob(pattern, pattern)


@settings(max_examples=400)
@given(pattern=flat_patterns, key=flat_keys)
def test_glob_agrees_with_fnmatch_on_flat_keys(pattern: str, key: str) -> None:
    assert paths.match_glob(pattern, key) is fnmatch.fnmatchcase(key, pattern)


@given(parts=st.lists(component, max_size=4), name=component)
def test_double_star_matches_any_depth(parts: list[str], name: str) -> None:
    key = paths.join("b", *parts, name)
    literal = "".join(f"[{c}]" if c in "*?[" else c for c in name)
    assert paths.match_glob(f"b/**/{literal}", key)
    assert paths.match_glob("b/**", key)
    assert paths.match_glob("**", key)
    assert paths.match_glob("b/" + "*/" * len(parts) + "*", key)
    assert not paths.match_glob(f"c/**/{literal}", key)


@given(pattern=flat_patterns.filter(lambda p: "**" not in p), left=flat_keys, right=flat_keys)
def test_star_and_question_never_cross_slash(pattern: str, left: str, right: str) -> None:
    assert not paths.match_glob(pattern, f"{left}/{right}")
