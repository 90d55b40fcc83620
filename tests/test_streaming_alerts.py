"""Alert outbox, channels, escalation and acknowledgement, against real SMTP and HTTP servers on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eegmon.streaming.ack import AckServer, TokenError, TokenSigner
from eegmon.streaming.channels import Channels, redact
from eegmon.streaming.outbox import DeliveryWorker, Outbox, SeizureEvent, alert_key, event_id
from eegmon.streaming.policy import AlertRules, Contact, Delivery, Policy, load_policy, parse_policy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegmon.cli import main
from eegmon.errors import EegmonError

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

SECRET_KEY = "s3cr3t-hook-key-0123456789"


class Clock:
    def __init__(self, t: float = 1.7e9) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hook:
    """A JSON webhook receiver on 127.0.0.1 that can be taken down, brought up and told to fail."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, dict]] = []  # (idempotency key, body)
        self.fail = 0  # answer this many requests with 500
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    def up(self) -> Hook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if hook.fail > 0:
                    hook.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                hook.received.append((self.headers.get("X-Idempotency-Key"), body, self.path))
                self.send_response(200)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def down(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.thread.join(5)
            self.httpd = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/hook/${{EEGMON_TEST_HOOK_KEY}}"


class Smtp:
    """An aiosmtpd server on 127.0.0.1 keeping the messages it receives."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages = []
        self.controller = None

    def up(self) -> Smtp:
        from aiosmtpd.controller import Controller

        smtp = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802
                smtp.messages.append(message_from_bytes(envelope.content))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def down(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=eegmon@localhost&to=parent@example.org&mode=insecure"

    def keys(self) -> list[str]:
        return [m["X-Idempotency-Key"] for m in self.messages]


@pytest.fixture
def servers(monkeypatch):
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", SECRET_KEY)
    hook, smtp = Hook(), Smtp()
    yield hook, smtp
    hook.down()
    smtp.down()


def _policy(*contacts, **alert) -> Policy:
    # the fault-injection test lets an hour pass per round: alerts here never give up (see test_delivery_retries)
    return Policy(tuple(contacts), AlertRules(**{"refractory_s": 300.0, **alert}),
                  Delivery(give_up_after_min=1e6, backoff_initial_s=1.0, backoff_max_s=60.0, timeout_s=5.0))


def _event(stream="p1", onset=1.7e9 - 30.0, p=0.97) -> SeizureEvent:
    return SeizureEvent(event_id(stream, onset), stream, onset, p, onset + 8.0, None, ("E1-E2",))


def test_email_and_webhook_end_to_end_exactly_once(servers, tmp_path, caplog):
    hook, smtp = servers
    hook.up()
    smtp.up()
    clock = Clock()
    outbox = Outbox(tmp_path / "o.sqlite", _policy(Contact("parent", (smtp.url, hook.url))), clock=clock)
    ev = _event()
    assert outbox.record_event(ev)
    assert not outbox.record_event(ev)  # the same event again: ignored
    assert not outbox.record_event(_event(onset=ev.onset + 100.0))  # within the refractory period
    caplog.set_level(logging.DEBUG)
    worker = DeliveryWorker(outbox, Channels(), raise_errors=True)
    assert worker.run_once() == 2
    assert worker.run_once() == 0
    keys = {alert_key(ev.id, "parent", i, "initial") for i in (0, 1)}
    assert len(hook.received) == 1 and len(smtp.messages) == 1
    assert {hook.received[0][0], smtp.keys()[0]} == keys
    assert hook.received[0][2] == f"/hook/{SECRET_KEY}"
    assert "Seizure alert" in smtp.messages[0]["Subject"] and ev.id in hook.received[0][1]["message"]
    assert [a["state"] for a in outbox.alerts()] == ["sent", "sent"]
    # the secret is in no log line and nowhere in the database files
    assert SECRET_KEY not in caplog.text
    outbox.close()
    for f in tmp_path.glob("o.sqlite*"):
        assert SECRET_KEY.encode() not in f.read_bytes()


def test_servers_down_then_up_every_alert_once(servers, tmp_path):
    hook, smtp = servers
    clock = Clock()
    outbox = Outbox(tmp_path / "o.sqlite", _policy(Contact("parent", (smtp.url, hook.url)), max_reminders=0),
                    clock=clock)
    events = [_event(onset=1.7e9 + 1000.0 * i) for i in range(3)]
    for ev in events:
        assert outbox.record_event(ev)
    worker = DeliveryWorker(outbox, Channels(), raise_errors=True)
    for _ in range(4):  # both servers down: every attempt fails, backoff grows
        assert worker.run_once() == 0
        clock.t += 120.0
    rows = outbox.alerts()
    assert {r["state"] for r in rows} == {"pending"} and min(r["attempts"] for r in rows) >= 3
    assert all("***" in r["last_error"] or SECRET_KEY not in r["last_error"] for r in rows)
    hook.up()
    hook.fail = 2  # and it answers 500 twice before it works
    smtp.up()
    for _ in range(5):
        clock.t += 120.0
        worker.run_once()
    assert sorted(k for k, _, _ in hook.received) == sorted(alert_key(e.id, "parent", 1, "initial") for e in events)
    assert sorted(smtp.keys()) == sorted(alert_key(e.id, "parent", 0, "initial") for e in events)
    assert {r["state"] for r in outbox.alerts()} == {"sent"}


class Crash(BaseException):
    """A simulated kill of the process in the middle of a delivery."""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(schedule=st.lists(st.sampled_from(["ok", "error", "timeout", "crash_before", "crash_after"]),
                         min_size=1, max_size=25),
       n_events=st.integers(1, 3))
def test_fault_injection_never_loses_or_duplicates(tmp_path_factory, schedule, n_events):
    """Scripted faults per send: errors, timeouts after delivery, crashes before/after delivery."""
    path = tmp_path_factory.mktemp("fi") / "o.sqlite"
    clock = Clock()
    policy = _policy(Contact("a", ("fake://a1", "fake://a2")), max_reminders=0)
    received: list[str] = []
    faults = iter(schedule)

    def send(url, msg):
        outcome = next(faults, "ok")
        if outcome == "crash_before":
            raise Crash
        if outcome == "error":
            raise ConnectionRefusedError("server down")
        received.append(msg.key)
        if outcome == "timeout":
            raise TimeoutError("no answer (but the server got it)")
        if outcome == "crash_after":
            raise Crash

    outbox = Outbox(path, policy, clock=clock)
    events = [_event(onset=1.7e9 + 1000.0 * i) for i in range(n_events)]
    for ev in events:
        outbox.record_event(ev)
    for _ in range(len(schedule) + 10):
        try:
            Outbox(path, policy, clock=clock).deliver_due(Channels(senders={"fake": send}))
        except Crash:
            pass  # the process died; a new one starts on the same file
        clock.t += 3600.0
    expected = {alert_key(e.id, "a", i, "initial") for e in events for i in (0, 1)}
    assert set(received) == expected  # nothing lost
    assert {r["state"] for r in outbox.alerts()} == {"sent"}
    ambiguous = schedule.count("timeout") + schedule.count("crash_after")
    # a duplicate only where the sender cannot know the message went out, and it has the same key,
    # so a receiver that keeps keys sees every alert exactly once
    assert len(received) - len(expected) <= ambiguous
    if ambiguous == 0:
        assert len(received) == len(expected)


def test_escalation_reminders_and_ack_stop(tmp_path):
    clock = Clock()
    got: list[tuple[str, str]] = []
    policy = _policy(Contact("a", ("fake://a",)), Contact("b", ("fake://b",)), Contact("c", ("fake://c",)),
                     escalate_after_min=5.0, reminder_every_min=10.0, max_reminders=2)
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
    worker = DeliveryWorker(outbox, Channels(senders={"fake": lambda url, m: got.append((url[7:], m.kind))}),
                            raise_errors=True)
    ev = _event()
    outbox.record_event(ev)
    worker.run_once()
    assert got == [("a", "initial")]
    clock.t += 4 * 60
    worker.run_once()
    assert len(got) == 1
    clock.t += 60
    worker.run_once()
    assert got[-1] == ("b", "escalation:1")
    clock.t += 5 * 60  # 10 min: c, and a first reminder to a and b
    worker.run_once()
    assert sorted(got[2:]) == [("a", "reminder:1"), ("b", "reminder:1"), ("c", "escalation:2")]
    worker.run_once()
    assert len(got) == 5
    assert outbox.acknowledge(ev.id[:6], by="test")
    assert not outbox.acknowledge(ev.id)
    clock.t += 60 * 60
    worker.run_once()
    # acknowledged: no more reminders, only the follow-up telling those alerted who acknowledged
    assert sorted(got[5:]) == [("a", "acknowledged"), ("b", "acknowledged"), ("c", "acknowledged")]
    with pytest.raises(EegmonError, match="no event"):
        outbox.acknowledge("ffffffff")


def test_tokens_forged_expired_replayed_refused_and_ack_endpoint(tmp_path):
    clock = Clock()
    policy = _policy(Contact("a", ("fake://a",)), Contact("b", ("fake://b",)), escalate_after_min=5.0)
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
    ev = _event()
    outbox.record_event(ev)
    signer = TokenSigner("0123456789abcdef-test", ttl_s=600.0, clock=clock)
    with pytest.raises(EegmonError, match="16 characters"):
        TokenSigner("short")
    token = signer.make(ev.id, "a")
    body, sig = token.split(".")
    forged = [TokenSigner("another-secret-000000", clock=clock).make(ev.id, "a"),
              body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig, "garbage", ""]
    for bad in forged:
        with pytest.raises(TokenError):
            signer.acknowledge(bad, outbox)
    expired = signer.make(ev.id, "a")
    server = AckServer(signer, outbox, "127.0.0.1", 0).start()
    try:
        def post(t):
            data = urllib.parse.urlencode({"t": t}).encode()
            try:
                with urllib.request.urlopen(f"{server.url}/ack", data=data, timeout=5) as r:
                    return r.status
            except urllib.error.HTTPError as err:
                return err.code

        with urllib.request.urlopen(f"{server.url}/ack?t={token}", timeout=5) as r:
            assert r.status == 200 and b"<form" in r.read()
        assert outbox.events()[0]["acked_at"] is None  # GET (link preview) does not acknowledge
        assert post(forged[1]) == 403
        clock.t += 601.0
        assert post(expired) == 403  # expired
        clock.t -= 601.0
        assert post(token) == 200
        assert outbox.events()[0]["acked_by"] == "link:a"
        assert post(token) == 200  # used again: an info page "already acknowledged by a at ..."
        assert server.url.startswith("http://127.0.0.1:")
    finally:
        server.stop()
    clock.t += 3600
    outbox.schedule()
    assert [a["contact"] for a in outbox.alerts()] == ["a"]  # no escalation after acknowledgement


def test_policy_file_and_errors(tmp_path, monkeypatch):
    good = tmp_path / "alerts.toml"
    good.write_text('[alert]\nmin_probability = 0.9\nrefractory_s = 60\n[delivery]\nmax_attempts = 3\n'
                    '[[contacts]]\nname = "mum"\nchannels = ["console://", "json://h/${HOOK}"]\n')
    p = load_policy(good)
    assert p.alert.min_probability == 0.9 and p.alert.refractory_s == 60.0 and p.contacts[0].name == "mum"
    from pathlib import Path

    example = Path(__file__).parents[1] / "sample_data" / "alerts.example.toml"
    assert len(load_policy(example).contacts) >= 2
    cases = {
        "[alert]\nmin_probabilty = 0.9\n": "unknown key alert.min_probabilty",
        "[alert]\nmin_probability = 'high'\n": "alert.min_probability must be a float",
        "[alert]\nmin_probability = 2.0\n": r"min_probability must be in \(0, 1\]",
        "[[contacts]]\nname = 'a'\nchannels = []\n": r"contacts\[0\].channels",
        "[alarm]\n": r"unknown section \[alarm\]",
        "[alert\n": "not valid TOML",
    }
    for text, match in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(EegmonError, match=match) as info:
            load_policy(bad)
        assert str(bad) in str(info.value)
    with pytest.raises(EegmonError, match="no such alert policy"):
        load_policy(tmp_path / "none.toml")
    monkeypatch.delenv("NOT_SET_VAR", raising=False)
    pol = parse_policy({"contacts": [{"name": "x", "channels": ["json://h/${NOT_SET_VAR}"]}]})
    with pytest.raises(EegmonError, match="NOT_SET_VAR"):
        Channels().send(pol.contacts[0].channels[0], None)
    assert redact("mailto://user:pw@smtp.example.org:587?to=a@b") == "mailto://user:***@smtp.example.org:587?***"
    assert redact("json://hooks.example.org/KEY123") == "json://hooks.example.org/***"


def test_alerts_cli_list_and_ack(tmp_path, capsys):
    db = tmp_path / "o.sqlite"
    outbox = Outbox(db, _policy(Contact("console", ("console://",))))
    ev = _event()
    outbox.record_event(ev)
    assert main(["alerts", "deliver", "--once", "--outbox", str(db)]) == 0
    assert "Seizure alert" in capsys.readouterr().out
    assert main(["alerts", "list", "--outbox", str(db)]) == 0
    out = capsys.readouterr().out
    assert ev.id in out and "sent" in out and "not acknowledged" in out
    assert main(["alerts", "ack", ev.id[:8], "--outbox", str(db)]) == 0
    assert main(["alerts", "list", "--outbox", str(db)]) == 0
    assert "acknowledged" in capsys.readouterr().out
    assert main(["alerts", "ack", "deadbeef", "--outbox", str(db)]) == 2
    assert main(["alerts", "list", "--outbox", str(tmp_path / "nope.sqlite")]) == 2
