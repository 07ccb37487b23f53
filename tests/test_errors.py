"""Errors: the hierarchy, redaction, and translation of real backend failures."""

from __future__ import annotations

import pickle

import pytest

from jasmin_access import errors
from jasmin_access.config import add_profile
from jasmin_access.errors import (
    AccessDenied,
    AlreadyExists,
    BucketNotFound,
    ConfigError,
    CredentialsMissing,
    EndpointUnreachable,
    IntegrityError,
    InvalidInput,
    JasminAccessError,
    NotFound,
    PartialFailure,
    ProfileNotFound,
    QuotaExceeded,
    ReadOnly,
    ServiceUnavailable,
    WrongEndpoint,
    redact,
    translate,
    translating,
)
from jasmin_access.stores import resolve
from tests.conftest import TEST_KEY, TEST_SECRET
from tests.s3proxy import FaultPlan, S3Proxy


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (NotFound, FileNotFoundError),
        (BucketNotFound, FileNotFoundError),
        (AlreadyExists, FileExistsError),
        (AccessDenied, PermissionError),
        (CredentialsMissing, PermissionError),
        (ReadOnly, PermissionError),
        (QuotaExceeded, OSError),
        (ConfigError, ValueError),
        (ProfileNotFound, KeyError),
        (InvalidInput, ValueError),
        (EndpointUnreachable, ConnectionError),
        (WrongEndpoint, ConnectionError),
        (ServiceUnavailable, ConnectionError),
        (IntegrityError, OSError),
        (PartialFailure, OSError),
    ],
)
def test_each_error_is_also_the_builtin(cls: type[JasminAccessError], builtin: type) -> None:
    err = cls("something failed", "do this")
    assert isinstance(err, JasminAccessError)
    assert isinstance(err, builtin)
    assert str(err) == "something failed: do this"
    with pytest.raises(builtin):
        raise err


def test_message_without_hint_and_keyerror_is_not_quoted() -> None:
    assert str(NotFound("gone")) == "gone"
    assert str(ProfileNotFound("unknown profile 'x'")) == "unknown profile 'x'"


def test_errors_pickle_with_message_and_hint() -> None:
    err = pickle.loads(pickle.dumps(AccessDenied("denied", "renew the key")))
    assert type(err) is AccessDenied
    assert (err.message, err.hint) == ("denied", "renew the key")
    partial = PartialFailure("2 of 5 failed", "re-run", failures=["a", "b"])
    assert partial.failures == ["a", "b"]


def test_every_public_error_is_exported() -> None:
    for name in errors.__all__:
        assert hasattr(errors, name)
    assert "WrongEndpoint" in errors.__all__


@pytest.mark.parametrize(
    "text",
    [
        "aws_secret_access_key = abcdEFGH1234",
        'secret: "abcdEFGH1234"',
        "token=abcdEFGH1234",
        "https://h/b/k?X-Amz-Signature=abcdEFGH1234&x=1",
        "Credential=abcdEFGH1234/20260101/us-east-1/s3",
    ],
)
def test_redact_masks_secret_shapes(text: str) -> None:
    out = redact(text)
    assert "abcdEFGH1234" not in out
    assert "****" in out


def test_redact_masks_registered_values_and_errors_redact_themselves() -> None:
    errors.register_secret("Reg1stered-Secret-Value")
    assert redact("failed with Reg1stered-Secret-Value inside") == "failed with **** inside"
    err = AccessDenied("bad Reg1stered-Secret-Value", "hint Reg1stered-Secret-Value")
    assert "Reg1stered" not in str(err)
    assert "Reg1stered" not in repr(err)
    assert redact("") == ""


def test_translate_leaves_unknown_and_own_errors_alone() -> None:
    own = NotFound("x")
    assert translate(own) is own
    bug = ZeroDivisionError("bug")
    assert translate(bug) is bug
    interrupt = KeyboardInterrupt()
    assert translate(interrupt) is interrupt
    with pytest.raises(ZeroDivisionError), translating("reading", "s3://b/k"):
        raise bug


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (FileNotFoundError("no such file"), NotFound),
        (FileNotFoundError("The specified bucket does not exist"), BucketNotFound),
        (FileExistsError("exists"), AlreadyExists),
        (PermissionError("denied"), AccessDenied),
        (ConnectionRefusedError(111, "refused"), EndpointUnreachable),
        (TimeoutError("slow"), EndpointUnreachable),
    ],
)
def test_translate_builtin_errors(exc: Exception, cls: type[JasminAccessError]) -> None:
    with pytest.raises(cls) as info, translating("reading", "s3://b/k", "jasmin"):
        raise exc
    assert info.value.__cause__ is exc
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- real conditions


def _ls(url: str, profile: str) -> None:
    loc = resolve(url, profile=profile)
    with translating("listing", url, profile):
        loc.fs.ls(loc.path, refresh=True)


def _profile(name: str, endpoint: str, **extra: object) -> str:
    add_profile(name, {"endpoint_url": endpoint, "key": TEST_KEY, "secret": TEST_SECRET, **extra})
    return name


def test_missing_bucket(s3_profile: str) -> None:
    with pytest.raises(BucketNotFound, match="bucket 'no-such-bucket-x1' does not exist"):
        _ls("s3://no-such-bucket-x1/", s3_profile)


def test_missing_key_is_not_found(s3_bucket: str, s3_profile: str) -> None:
    loc = resolve(f"{s3_bucket}/absent.nc", profile=s3_profile)
    with pytest.raises(NotFound) as info, translating("reading", loc.url, s3_profile):
        loc.fs.cat(loc.path)
    assert not isinstance(info.value, BucketNotFound)
    assert loc.url in str(info.value)


def test_unreachable_host(closed_endpoint: str) -> None:
    name = _profile("closed", closed_endpoint)
    with pytest.raises(EndpointUnreachable) as info:
        _ls("s3://bucket/", name)
    assert f"cannot reach {closed_endpoint} while listing s3://bucket/" in str(info.value)
    assert "config test closed" in str(info.value)


@pytest.mark.parametrize("html_endpoint", [200, 404], indirect=True)
def test_wrong_endpoint(html_endpoint: str) -> None:
    name = _profile("web", html_endpoint)
    with pytest.raises(WrongEndpoint) as info:
        _ls("s3://bucket/", name)
    assert "did not answer like an S3 store" in str(info.value)
    assert "endpoint_url in profile 'web'" in str(info.value)


def test_missing_credentials(s3_endpoint: str) -> None:
    add_profile("nokey", {"endpoint_url": s3_endpoint})
    with pytest.raises(CredentialsMissing, match="profile 'nokey' has no credentials"):
        _ls("s3://bucket/", "nokey")


def test_unknown_profile() -> None:
    with pytest.raises(ProfileNotFound, match="unknown profile 'nope'"):
        _ls("s3://bucket/", "nope")


def test_access_denied(s3_bucket: str, proxied_profile: str, s3_proxy: S3Proxy) -> None:
    s3_proxy.fail(status=403, code="AccessDenied")
    with pytest.raises(AccessDenied) as info:
        _ls(s3_bucket + "/", proxied_profile)
    text = str(info.value)
    assert text.startswith(f"access denied listing {s3_bucket}/")
    assert "may have expired" in text and "config test proxied" in text


def test_expired_key(s3_bucket: str, proxied_profile: str, s3_proxy: S3Proxy) -> None:
    s3_proxy.fail(status=403, code="InvalidAccessKeyId")
    with pytest.raises(AccessDenied, match=r"rejected \(InvalidAccessKeyId\)"):
        _ls(s3_bucket + "/", proxied_profile)


def test_quota_exceeded_on_write(s3_bucket: str, proxied_profile: str, s3_proxy: S3Proxy) -> None:
    s3_proxy.fail(method="PUT", status=403, code="QuotaExceeded")
    loc = resolve(f"{s3_bucket}/a.nc", profile=proxied_profile)
    with pytest.raises(QuotaExceeded), translating("writing", loc.url, proxied_profile):
        loc.fs.pipe(loc.path, b"data")
    _ls(s3_bucket + "/", proxied_profile)  # reads still work


def test_persistent_slowdown_is_service_unavailable(
    s3_bucket: str, s3_proxy: S3Proxy, isolated_env: object
) -> None:
    name = _profile("busy", s3_proxy.url, retries=2)
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("503",))
    with pytest.raises(ServiceUnavailable, match="SlowDown"):
        _ls(s3_bucket + "/", name)
    # two botocore attempts inside a bounded outer loop, not retries squared
    assert 2 <= s3_proxy.count() <= 6


def test_error_messages_are_distinct(
    s3_endpoint: str, closed_endpoint: str, html_endpoint: str, s3_profile: str
) -> None:
    cases = {
        "closed": _profile("closed", closed_endpoint),
        "web": _profile("web", html_endpoint),
        "nokey": "nokey",
        "nope": "nope",
        "bucket": s3_profile,
    }
    add_profile("nokey", {"endpoint_url": s3_endpoint})
    messages = set()
    for name, profile in cases.items():
        with pytest.raises(JasminAccessError) as info:
            _ls("s3://no-such-bucket-x2/", profile)
        messages.add(info.value.message.split(" (")[0].split(":")[0])
        assert TEST_SECRET not in str(info.value), name
    assert len(messages) == len(cases)


def test_persistent_resets_say_the_connection_dropped(
    s3_bucket: str, s3_proxy: S3Proxy, isolated_env: object
) -> None:
    name = _profile("flaky", s3_proxy.url, retries=1)
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("reset",))
    with pytest.raises(ServiceUnavailable, match="dropped the connection while listing") as info:
        _ls(s3_bucket + "/", name)
    assert not isinstance(info.value, EndpointUnreachable)
    assert s3_proxy.count_faults("reset") >= 1


def test_invalid_bucket_name_is_invalid_input(s3_profile: str) -> None:
    loc = resolve("s3://x", profile=s3_profile)
    with pytest.raises(InvalidInput, match="InvalidBucketName"), translating("creating", loc.url):
        loc.fs.mkdir("x")


def test_existing_bucket_is_already_exists(s3_bucket: str, s3_profile: str) -> None:
    loc = resolve(s3_bucket, profile=s3_profile)
    with pytest.raises(AlreadyExists), translating("creating", loc.url):
        loc.fs.mkdir(loc.bucket, exist_ok=False)
