"""The fault-injecting proxy itself: forwarding, counting, faults and rules."""

from __future__ import annotations

import http.client
import socket
import uuid

import pytest

from jasmin_access.errors import AccessDenied, QuotaExceeded, translating
from jasmin_access.stores import resolve
from tests.s3proxy import FaultPlan, S3Proxy, classify


def _request(
    proxy: S3Proxy,
    method: str,
    target: str,
    body: bytes = b"",
    extra: dict[str, str] | None = None,
) -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", int(proxy.url.rsplit(":", 1)[1]), timeout=10)
    try:
        # moto refuses anonymous reads of private objects: write them public-read
        headers = {"x-amz-acl": "public-read"} if method == "PUT" else {}
        headers.update(extra or {})
        conn.request(method, target, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


@pytest.fixture
def raw_bucket(s3_proxy: S3Proxy) -> str:
    """A bucket created through the proxy with plain (unsigned) HTTP."""
    name = f"raw-{uuid.uuid4().hex[:10]}"
    status, _, _ = _request(s3_proxy, "PUT", f"/{name}")
    assert status == 200
    s3_proxy.reset()
    return name


@pytest.mark.parametrize(
    ("method", "path", "query", "kind"),
    [
        ("GET", "/", "", "list"),
        ("GET", "/b", "", "list"),
        ("GET", "/b/", "list-type=2&prefix=a%2F", "list"),
        ("GET", "/b/a/c.nc", "", "get"),
        ("HEAD", "/b/a/c.nc", "", "head"),
        ("PUT", "/b/a/c.nc", "", "put"),
        ("DELETE", "/b/a/c.nc", "", "delete"),
        ("POST", "/b", "delete", "bulk-delete"),
        ("POST", "/b/big", "uploads", "multipart"),
        ("PUT", "/b/big", "partNumber=1&uploadId=xyz", "multipart"),
    ],
)
def test_classify(method: str, path: str, query: str, kind: str) -> None:
    assert classify(method, path, query) == kind


def test_forwards_and_counts(raw_bucket: str, s3_proxy: S3Proxy) -> None:
    data = b"x" * 1000
    assert _request(s3_proxy, "PUT", f"/{raw_bucket}/run1/a.nc", data)[0] == 200
    status, body, _ = _request(s3_proxy, "GET", f"/{raw_bucket}/run1/a.nc")
    assert (status, body) == (200, data)
    status, _, headers = _request(s3_proxy, "HEAD", f"/{raw_bucket}/run1/a.nc")
    assert status == 200 and headers["Content-Length"] == "1000"
    status, body, _ = _request(s3_proxy, "GET", f"/{raw_bucket}?list-type=2")
    assert status == 200 and b"run1/a.nc" in body
    assert _request(s3_proxy, "DELETE", f"/{raw_bucket}/run1/a.nc")[0] == 204
    assert _request(s3_proxy, "GET", f"/{raw_bucket}/run1/a.nc")[0] == 404
    assert s3_proxy.count() == 6
    assert s3_proxy.count(kind="put") == 1
    assert s3_proxy.count(kind="get") == 2
    assert s3_proxy.count(method="HEAD") == 1
    assert s3_proxy.count(kind="list") == 1
    assert s3_proxy.count(kind="delete") == 1
    assert s3_proxy.requests[3] == ("GET", f"/{raw_bucket}", "list-type=2")
    assert s3_proxy.authorized_requests == []
    assert s3_proxy.faults_injected == 0
    s3_proxy.reset()
    assert s3_proxy.count() == 0 and s3_proxy.requests == []


@pytest.mark.parametrize(
    ("fault", "status", "code"), [("503", 503, b"SlowDown"), ("500", 500, b"InternalError")]
)
def test_error_faults_answer_s3_xml(
    raw_bucket: str, s3_proxy: S3Proxy, fault: str, status: int, code: bytes
) -> None:
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=(fault,))
    got, body, headers = _request(s3_proxy, "PUT", f"/{raw_bucket}/k", b"data")
    assert got == status
    assert f"<Code>{code.decode()}</Code>".encode() in body
    assert headers["Content-Type"] == "application/xml"
    assert s3_proxy.faults == [(fault, "PUT", f"/{raw_bucket}/k")]
    s3_proxy.plan = FaultPlan()
    assert _request(s3_proxy, "GET", f"/{raw_bucket}/k")[0] == 404  # never forwarded


def test_reset_closes_without_answer(raw_bucket: str, s3_proxy: S3Proxy) -> None:
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("reset",))
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        _request(s3_proxy, "PUT", f"/{raw_bucket}/k", b"data")
    s3_proxy.plan = FaultPlan()
    assert _request(s3_proxy, "GET", f"/{raw_bucket}/k")[0] == 404
    assert s3_proxy.count_faults("reset") == 1


def test_reset_after_forwarding_applies_the_write(raw_bucket: str, s3_proxy: S3Proxy) -> None:
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("reset-after",), only_methods=("PUT",))
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        _request(s3_proxy, "PUT", f"/{raw_bucket}/k", b"data")
    assert _request(s3_proxy, "GET", f"/{raw_bucket}/k")[:2] == (200, b"data")


def test_truncate_sends_part_of_the_body(raw_bucket: str, s3_proxy: S3Proxy) -> None:
    data = bytes(range(256)) * 40
    assert _request(s3_proxy, "PUT", f"/{raw_bucket}/k", data)[0] == 200
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("truncate",), only_methods=("GET",))
    with pytest.raises(http.client.IncompleteRead) as info:
        _request(s3_proxy, "GET", f"/{raw_bucket}/k")
    assert 0 < len(info.value.partial) < len(data)
    assert info.value.partial == data[: len(info.value.partial)]


def test_latency_fault_still_answers(raw_bucket: str, s3_proxy: S3Proxy) -> None:
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("latency",), latency_ms=5)
    assert _request(s3_proxy, "PUT", f"/{raw_bucket}/k", b"abc")[0] == 200
    assert _request(s3_proxy, "GET", f"/{raw_bucket}/k")[:2] == (200, b"abc")
    assert s3_proxy.count_faults("latency") == 2


def test_plan_filters_and_bounds(raw_bucket: str, s3_proxy: S3Proxy) -> None:
    s3_proxy.plan = FaultPlan(rate=1.0, kinds=("503",), only_kinds=("get",), max_faults=2)
    assert _request(s3_proxy, "PUT", f"/{raw_bucket}/k", b"abc")[0] == 200
    assert [_request(s3_proxy, "GET", f"/{raw_bucket}/k")[0] for _ in range(3)] == [503, 503, 200]
    assert s3_proxy.faults_injected == 2


def test_seed_makes_faults_reproducible(s3_endpoint: str) -> None:
    def fault_indices(seed: int) -> list[int]:
        with S3Proxy(s3_endpoint, plan=FaultPlan(rate=0.3, kinds=("503",), seed=seed)) as proxy:
            return [i for i in range(40) if _request(proxy, "GET", "/")[0] == 503]

    first = fault_indices(7)
    assert first == fault_indices(7)
    assert 0 < len(first) < 40
    assert first != fault_indices(8)


def test_bad_plan_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault kinds"):
        FaultPlan(kinds=("explode",))
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(rate=2)


def test_rules_match_method_query_and_times(raw_bucket: str, s3_proxy: S3Proxy) -> None:
    rule = s3_proxy.fail(method="POST", query="delete", code="AccessDenied")
    quota = s3_proxy.fail(method="PUT", status=403, code="QuotaExceeded", times=1)
    status, body, _ = _request(s3_proxy, "PUT", f"/{raw_bucket}/k", b"abc")
    assert status == 403 and b"<Code>QuotaExceeded</Code>" in body
    assert _request(s3_proxy, "PUT", f"/{raw_bucket}/k", b"abc")[0] == 200  # times=1 used up
    status, body, _ = _request(s3_proxy, "POST", f"/{raw_bucket}?delete", b"<Delete/>")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    assert _request(s3_proxy, "DELETE", f"/{raw_bucket}/k")[0] == 204  # single deletes pass
    assert (rule.hits, quota.hits) == (1, 1)
    assert s3_proxy.count_faults("rule") == 2
    s3_proxy.clear_rules()
    assert _request(s3_proxy, "GET", f"/{raw_bucket}?list-type=2")[0] == 200


def test_stop_is_idempotent_and_closes_the_port(s3_endpoint: str) -> None:
    proxy = S3Proxy(s3_endpoint).start()
    port = int(proxy.url.rsplit(":", 1)[1])
    assert _request(proxy, "GET", "/")[0] == 200
    proxy.stop()
    proxy.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass


def test_lifetime_stops_the_proxy_by_itself(s3_endpoint: str) -> None:
    proxy = S3Proxy(s3_endpoint, lifetime=0.05).start()
    assert proxy._thread is not None
    proxy._thread.join(timeout=10)
    assert not proxy._thread.is_alive()
    with pytest.raises(RuntimeError):
        _ = proxy.url


# --------------------------------------------------------------------------- through s3fs


def test_signed_client_through_proxy(proxied_profile: str, s3_proxy: S3Proxy) -> None:
    name = f"px-{uuid.uuid4().hex[:10]}"
    loc = resolve(f"s3://{name}", profile=proxied_profile)
    loc.fs.mkdir(name)
    loc.fs.pipe(f"{name}/run1/a.nc", b"hello")
    assert loc.fs.cat(f"{name}/run1/a.nc") == b"hello"
    assert loc.fs.ls(f"{name}/run1", refresh=True) == [f"{name}/run1/a.nc"]
    assert s3_proxy.count(kind="put") >= 2
    assert s3_proxy.count(kind="get") >= 1
    assert s3_proxy.count(kind="list") >= 1
    assert len(s3_proxy.authorized_requests) == s3_proxy.count() > 0


def test_targeted_rules_reach_the_client_as_errors(proxied_profile: str, s3_proxy: S3Proxy) -> None:
    name = f"px-{uuid.uuid4().hex[:10]}"
    fs = resolve(f"s3://{name}", profile=proxied_profile).fs
    fs.mkdir(name)
    s3_proxy.fail(method="PUT", status=403, code="QuotaExceeded")
    with pytest.raises(QuotaExceeded), translating("writing", f"s3://{name}/a", proxied_profile):
        fs.pipe(f"{name}/a", b"data")
    s3_proxy.clear_rules()
    s3_proxy.fail(status=403, code="InvalidAccessKeyId")
    with (
        pytest.raises(AccessDenied, match="expired"),
        translating("listing", f"s3://{name}/", proxied_profile),
    ):
        fs.ls(name, refresh=True)


def test_five_percent_faults_are_survived(proxied_profile: str, s3_proxy: S3Proxy) -> None:
    name = f"px-{uuid.uuid4().hex[:10]}"
    fs = resolve(f"s3://{name}", profile=proxied_profile).fs
    fs.mkdir(name)
    s3_proxy.plan = FaultPlan(rate=0.05, seed=3)
    blobs = {f"{name}/k{i:02d}": bytes([i]) * (100 + i) for i in range(40)}
    for path, data in blobs.items():
        fs.pipe(path, data)
    for path, data in blobs.items():
        assert fs.cat(path) == data
    assert sorted(fs.ls(name, refresh=True)) == sorted(blobs)
    assert s3_proxy.faults_injected > 0


def test_multipart_and_bulk_delete_are_classified(proxied_profile: str, s3_proxy: S3Proxy) -> None:
    name = f"px-{uuid.uuid4().hex[:10]}"
    fs = resolve(f"s3://{name}", profile=proxied_profile).fs
    fs.mkdir(name)
    with fs.open(f"{name}/big.bin", "wb", block_size=5 * 2**20) as f:
        f.write(b"\1" * (6 * 2**20))
    assert s3_proxy.count(kind="multipart") >= 3  # create, parts, complete
    fs.pipe({f"{name}/a": b"a", f"{name}/b": b"b"})
    s3_proxy.reset()
    fs.rm([f"{name}/a", f"{name}/b"])
    assert s3_proxy.count(kind="bulk-delete") == 1
    assert s3_proxy.count(kind="delete") == 0


def test_bulk_delete_refused_but_single_deletes_work(
    proxied_profile: str, s3_proxy: S3Proxy
) -> None:
    name = f"px-{uuid.uuid4().hex[:10]}"
    fs = resolve(f"s3://{name}", profile=proxied_profile).fs
    fs.mkdir(name)
    fs.pipe({f"{name}/a": b"a", f"{name}/b": b"b"})
    s3_proxy.fail(method="POST", query="delete", status=403, code="AccessDenied")
    with pytest.raises(AccessDenied), translating("deleting", f"s3://{name}/", proxied_profile):
        fs.rm([f"{name}/a", f"{name}/b"])
    fs.rm_file(f"{name}/a")
    assert fs.ls(name, refresh=True) == [f"{name}/b"]


@pytest.mark.parametrize("header", ["If-None-Match", "If-Match"])
def test_conditional_put_is_refused_like_jasmin(
    raw_bucket: str, s3_proxy: S3Proxy, header: str
) -> None:
    s3_proxy.reject_conditional = True
    status, body, _ = _request(s3_proxy, "PUT", f"/{raw_bucket}/ref", b"x", {header: "*"})
    assert status == 501 and b"<Code>NotImplemented</Code>" in body
    assert _request(s3_proxy, "GET", f"/{raw_bucket}/ref")[0] == 404  # never written
    assert s3_proxy.conditional_refused == [f"/{raw_bucket}/ref"]
    assert _request(s3_proxy, "PUT", f"/{raw_bucket}/ref", b"x")[0] == 200  # plain PUT works
