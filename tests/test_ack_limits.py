"""The acknowledgement endpoint under hostile and heavy traffic: raw sockets against a real AckServer on 127.0.0.1.

Every malformed request gets its status code and the server goes on serving; slow clients are
dropped without holding up others; 200 concurrent clients are all answered, each event
acknowledged once.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import sqlite3
import threading
import urllib.parse

import pytest
from eegmon.streaming.ack import MAX_BODY, MAX_HEADER_BYTES, MAX_HEADERS, MAX_REQUEST_LINE, AckServer, TokenSigner
from eegmon.streaming.outbox import Outbox, SeizureEvent, event_id
from eegmon.streaming.policy import AlertRules, Contact, Policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegmon.errors import EegmonError

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

SECRET = "0123456789abcdef-limits"
T0 = 1.7e9


class Site:
    """An outbox with ``n`` events, a signer and a running AckServer."""

    def __init__(self, path, n: int = 1, *, signer: TokenSigner | None = None, **server) -> None:
        self.outbox = Outbox(path, Policy((Contact("a", ("console://",)),), AlertRules(refractory_s=1.0)))
        self.events = []
        for i in range(n):
            ev = SeizureEvent(event_id("s", T0 + 100.0 * i), "s", T0 + 100.0 * i, 0.9, T0 + 100.0 * i + 5)
            self.outbox.record_event(ev)
            self.events.append(ev.id)
        self.signer = signer or TokenSigner(SECRET)
        self.server = AckServer(self.signer, self.outbox, **server).start()
        self.address = self.server.httpd.server_address[:2]

    def connect(self, timeout: float = 30.0) -> socket.socket:
        return socket.create_connection(self.address, timeout=timeout)

    def exchange(self, data: bytes, *, half_close: bool = False) -> tuple[int | None, bytes]:
        """Send ``data`` (and shut our side if asked), read the answer to the end: (status, whole answer)."""
        with self.connect() as sock:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            answer = read_all(sock)
        return status_of(answer), answer

    def get(self, token: str) -> tuple[int | None, bytes]:
        return self.exchange(f"GET /ack?t={token} HTTP/1.1\r\nHost: x\r\n\r\n".encode())

    def post(self, token: str) -> tuple[int | None, bytes]:
        body = urllib.parse.urlencode({"t": token}).encode()
        return self.exchange(b"POST /ack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))

    def serves_a_good_request(self) -> bool:
        status, answer = self.get(self.signer.make(self.events[0], "a"))
        return status == 200 and b"<form" in answer

    def close(self) -> None:
        self.server.stop()
        self.outbox.close()


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def status_of(answer: bytes) -> int | None:
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", answer)
    return int(m.group(1)) if m else None


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One server for all malformed and random requests: it must survive every one of them."""
    s = Site(tmp_path_factory.mktemp("ack") / "o.sqlite", timeout_s=1.0)
    yield s
    s.close()


@pytest.fixture
def site(tmp_path):
    s = Site(tmp_path / "o.sqlite", timeout_s=1.0)
    yield s
    s.close()


def _post_head(*headers: str) -> bytes:
    return ("POST /ack HTTP/1.1\r\nHost: x\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode()


MALFORMED = {
    "1 MB GET token": (b"GET /ack?t=" + b"A" * 1_000_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    "request line just over the limit": (b"GET /ack?t=" + b"A" * MAX_REQUEST_LINE + b" HTTP/1.1\r\n\r\n", 414),
    "Content-Length abc": (_post_head("Content-Length: abc") + b"t=x", 400),
    "Content-Length -5": (_post_head("Content-Length: -5") + b"t=x", 400),
    "Content-Length -1": (_post_head("Content-Length: -1") + b"t=x", 400),
    "Content-Length +3": (_post_head("Content-Length: +3") + b"t=x", 400),
    "Content-Length superscript digit": (_post_head("Content-Length: \xb2") + b"t=", 400),
    "two different Content-Lengths": (_post_head("Content-Length: 3", "Content-Length: 30") + b"t=x", 400),
    "POST without Content-Length": (_post_head() + b"t=x", 411),
    "chunked POST": (_post_head("Transfer-Encoding: chunked") + b"3\r\nt=x\r\n0\r\n\r\n", 411),
    "body over the limit": (_post_head(f"Content-Length: {MAX_BODY + 1}") + b"t=" + b"A" * (MAX_BODY - 1), 413),
    "a 5000-digit Content-Length": (_post_head("Content-Length: " + "9" * 5000) + b"t=x", 413),
    "leading zeros": (_post_head("Content-Length: " + "0" * 5000 + "3") + b"t=x", 403),
    "2 MB body": (_post_head("Content-Length: 2000000") + b"t=" + b"A" * 1_999_998, 413),
    "a huge header line": (_post_head("X-Pad: " + "p" * MAX_HEADER_BYTES) + b"t=x", 431),
    "too many headers": (_post_head(*(f"X-{i}: {i}" for i in range(MAX_HEADERS + 1))), 431),
    "a folded header line": (_post_head("Content-Length: 3", " 0") + b"t=x", 400),
    "a space before the colon": (_post_head("Content-Length : 3") + b"t=x", 400),
    "garbage bytes": (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\xff\r\n\r\n", 400),
    "a target that is not a URL": (b"GET http://[::1/ack HTTP/1.1\r\n\r\n", 404),
    "non-UTF-8 request line": (b"GET /ack?t=\xff\xfe\xc3\x28 HTTP/1.1\r\nHost: x\r\n\r\n", 400),
    "control characters in the request line": (b"GET /ack?t=a\x00b HTTP/1.1\r\n\r\n", 400),
    "an empty line": (b"\r\n\r\n", 400),
    "HTTP/0.9": (b"GET /ack?t=x\r\n", 400),
    "HTTP/2.0": (b"GET /ack?t=x HTTP/2.0\r\n\r\n", 400),
    "PUT": (b"PUT /ack HTTP/1.1\r\nContent-Length: 3\r\n\r\nt=x", 405),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_requests_get_their_status_and_the_server_goes_on(shared, case):
    data, expected = MALFORMED[case]
    status, answer = shared.exchange(data)  # no half close: the server answers without waiting for us
    assert status == expected, answer[:300]
    assert b"Connection: close" in answer
    if expected == 405:
        assert b"Allow: GET, POST" in answer
    assert shared.serves_a_good_request()


@pytest.mark.parametrize(("method", "url", "body", "expected"), [
    ("GET", "/ack?t=" + "A" * (4 << 20), None, 414), ("POST", "/ack", b"t=" + b"A" * (4 << 20), 413)])
def test_a_client_sending_megabytes_reads_the_refusal_not_a_reset(shared, method, url, body, expected):
    """What the server will not read is drained after the answer, so the sender is not cut off mid-send."""
    conn = http.client.HTTPConnection(*shared.address, timeout=30)
    try:
        conn.request(method, url, body=body)
        assert conn.getresponse().status == expected
    finally:
        conn.close()
    assert shared.serves_a_good_request()


def test_body_shorter_than_announced_is_refused(site):
    status, _ = site.exchange(_post_head("Content-Length: 200") + b"t=abc", half_close=True)
    assert status == 400
    assert site.serves_a_good_request()


def test_bad_tokens_still_refused_and_a_good_one_acknowledges(site):
    token = site.signer.make(site.events[0], "a")
    body, sig = token.split(".")
    for bad in (token[:-3], body + "." + sig[::-1], "x" * 3000, token + "." + sig):
        status, answer = site.post(bad)
        assert status == 403 and b"Refused" in answer
    raw = b"t=" + token.encode()[:-4] + b"\xe9\xff\xfe\x80"  # not UTF-8
    status, answer = site.exchange(_post_head(f"Content-Length: {len(raw)}") + raw)
    assert status == 403 and b"Refused" in answer
    status, answer = site.post(token)
    assert status == 200 and b"Acknowledged" in answer
    status, answer = site.post(token)  # used again: who acknowledged, not a refusal
    assert status == 200 and b"already acknowledged by a" in answer
    assert site.outbox.events()[0]["acked_by"] == "link:a"


def test_unexpected_errors_are_500_logged_without_the_token(tmp_path, caplog):
    class Faulty(TokenSigner):
        def check(self, token, purpose="ack"):
            if token.startswith("boom"):
                raise RuntimeError(f"cannot handle {token}")
            return super().check(token, purpose)

        def acknowledge(self, token, outbox):
            if token.startswith("locked"):
                raise sqlite3.OperationalError(f"database is locked ({token})")
            return super().acknowledge(token, outbox)

    s = Site(tmp_path / "o.sqlite", signer=Faulty(SECRET), timeout_s=1.0)
    try:
        with caplog.at_level(logging.DEBUG, logger="eegmon.streaming"):
            status, answer = s.get("boom-SECRETPART")
            assert status == 500 and b"internal error" in answer
            status, answer = s.post("locked-SECRETPART")
            assert status == 503 and b"Retry-After: 60" in answer
        assert "RuntimeError" in caplog.text and "do_GET" in caplog.text
        assert "SECRETPART" not in caplog.text
        assert s.serves_a_good_request()
    finally:
        s.close()


def test_tokens_stay_out_of_the_logs_of_refused_requests(site, caplog):
    token = site.signer.make(site.events[0], "a")
    with caplog.at_level(logging.DEBUG, logger="eegmon.streaming"):
        site.exchange(f"GET /ack?t={token} extra HTTP/1.1\r\n\r\n".encode())  # 400, the line is echoed to the client
        site.exchange(b"GET /ack?t=" + token.encode() * 100 + b" HTTP/1.1\r\n\r\n")  # 414
        site.get(token)
        site.post(token)
    assert "ack endpoint" in caplog.text and token[:20] not in caplog.text


def test_a_stalled_half_request_is_dropped_after_the_timeout(site):
    with site.connect() as sock:
        sock.sendall(b"POST /ack HTTP/1.1\r\nHost: x\r\nContent-Len")  # ... and nothing more
        answer = read_all(sock)  # returns only if the server gives up on us
    assert status_of(answer) == 408
    assert site.serves_a_good_request()


def test_trickling_a_byte_at_a_time_does_not_keep_a_handler(site):
    """The timeout is one deadline for the whole request, not per read."""
    sock = site.connect()
    stopped = threading.Event()

    def trickle():
        try:
            while not stopped.wait(0.1):
                sock.send(b"A")  # a request line that never ends, 10 bytes/s: would last ~13 min
        except OSError:
            pass

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        answer = read_all(sock)
    finally:
        stopped.set()
        thread.join(10)
        sock.close()
    assert status_of(answer) == 408


def test_a_stalled_client_does_not_block_others(tmp_path):
    s = Site(tmp_path / "o.sqlite", timeout_s=60.0)  # long enough that the stalled client is still there
    try:
        with s.connect() as stalled:
            stalled.sendall(b"GET /ack?t=")
            assert s.serves_a_good_request()
            stalled.setblocking(False)
            with pytest.raises(BlockingIOError):
                stalled.recv(1)  # no answer yet, no close: it was not dropped to serve the other
    finally:
        s.close()


def test_clients_beyond_the_bound_wait_instead_of_being_reset(tmp_path):
    s = Site(tmp_path / "o.sqlite", timeout_s=1.0, max_connections=2)
    try:
        stalled = [s.connect() for _ in range(2)]
        for sock in stalled:
            sock.sendall(b"GET /ack")  # both slots taken until the timeout
        assert s.serves_a_good_request()  # queued until a slot freed, then served
        for sock in stalled:
            assert status_of(read_all(sock)) == 408
            sock.close()
    finally:
        s.close()


def _concurrently(n: int, request) -> list:
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def client(i: int) -> None:
        barrier.wait()
        try:
            results[i] = request(i)[0]
        except OSError as err:
            results[i] = err

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(100)
    return results


def test_200_concurrent_acknowledgements(tmp_path):
    n = 200
    s = Site(tmp_path / "o.sqlite", n + 1, timeout_s=30.0)
    try:
        *distinct, last = s.events
        tokens = [s.signer.make(eid, "a") for eid in distinct]
        results = _concurrently(n, lambda i: s.post(tokens[i]))
        assert results == [200] * n  # no reset, no error, no "database is locked"
        events = {e["id"]: e for e in s.outbox.events()}
        assert all(events[eid]["acked_by"] == "link:a" for eid in distinct) and events[last]["acked_at"] is None

        same = s.signer.make(last, "b")
        results = _concurrently(n, lambda i: (s.post(same),))
        assert [r[0] for r in results] == [200] * n  # one acknowledges, the rest: an info page, not a refusal
        assert sum(b"Acknowledged: thank you" in r[1] for r in results) == 1
        assert sum(b"already acknowledged by b" in r[1] for r in results) == n - 1
        assert {e["id"]: e for e in s.outbox.events()}[last]["acked_by"] == "link:b"
    finally:
        s.close()


_FIRST_LINES = st.one_of(
    st.sampled_from([b"POST /ack HTTP/1.1\r\n", b"POST /ack HTTP/1.0\r\n", b"GET /ack?t=x HTTP/1.1\r\n",
                     b"POST /other HTTP/1.1\r\n", b"DELETE /ack HTTP/1.1\r\n"]),
    st.tuples(st.sampled_from([b"GET", b"POST"]), st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e),
                                                         min_size=1, max_size=60))
    .map(lambda mt: mt[0] + b" " + mt[1].encode() + b" HTTP/1.1\r\n"),
    st.binary(max_size=120))
_HEADER_NAMES = st.sampled_from([b"Content-Length", b"content-length", b"Transfer-Encoding", b"Host", b"Expect",
                                 b"Connection", b"Content-Type", b"X-Junk"])
_HEADER_LINES = st.one_of(
    st.tuples(_HEADER_NAMES, st.one_of(st.binary(max_size=30), st.integers(-10, 10**6).map(lambda i: str(i).encode())))
    .map(lambda nv: nv[0] + b": " + nv[1] + b"\r\n"),
    st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"") + b"\r\n"))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=_FIRST_LINES, headers=st.lists(_HEADER_LINES, max_size=12), body=st.binary(max_size=400),
       with_length=st.booleans())
def test_random_garbage_never_gives_a_5xx_nor_kills_the_server(shared, caplog, first, headers, body, with_length):
    if with_length:  # the right length too, so that garbage bodies reach the token check
        headers = [*headers, b"Content-Length: %d\r\n" % len(body)]
    with caplog.at_level(logging.ERROR, logger="eegmon.streaming"):
        status, answer = shared.exchange(first + b"".join(headers) + b"\r\n" + body, half_close=True)
    assert status is not None, answer[:200]  # always an answer with a status line
    assert status < 500 or status == 503, answer[:300]
    assert not caplog.records  # nothing unexpected was logged
    assert shared.serves_a_good_request()


def test_server_parameters_are_checked(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite", Policy())
    signer = TokenSigner(SECRET)
    for kwargs, match in (({"timeout_s": 0}, "'timeout_s' parameter of AckServer must be a number of seconds"),
                          ({"timeout_s": float("inf")}, "timeout_s"),
                          ({"max_connections": 0}, "'max_connections' parameter of AckServer must be an int >= 1"),
                          ({"backlog": 2.5}, "'backlog' parameter .* Got 2.5 instead")):
        with pytest.raises(EegmonError, match=match):
            AckServer(signer, outbox, **kwargs)
    server = AckServer(signer, outbox, backlog=300)
    try:
        assert server.httpd.request_queue_size == 300
    finally:
        server.httpd.server_close()
    outbox.close()
