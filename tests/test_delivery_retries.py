"""Alerts never give up silently: retries while fresh, a short backoff cap, escalation on give-up, policies checked."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from eegmon.streaming.channels import Channels
from eegmon.streaming.outbox import DeliveryWorker, Outbox, SeizureEvent, alert_key, event_id
from eegmon.streaming.policy import AlertRules, Contact, Delivery, Policy, load_policy
from hypothesis import given
from hypothesis import strategies as st
from test_streaming_alerts import Clock, Hook  # tests/ is on sys.path under pytest

from eegmon.cli import main
from eegmon.errors import EegmonError

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

T0 = 1.7e9


def _event(i: int, stream: str = "p1") -> SeizureEvent:
    onset = T0 + 1000.0 * i
    return SeizureEvent(event_id(stream, onset), stream, onset, 0.95, onset + 8.0)


def _rules(**kw) -> AlertRules:
    return AlertRules(**{"escalate_after_min": 0.0, "max_reminders": 0, **kw})


class Fake:
    """``fake://NAME`` senders: NAME in ``down`` fails, the rest is recorded as (name, kind, title, body)."""

    def __init__(self, *down: str) -> None:
        self.down = set(down)
        self.got: list[tuple[str, str, str, str]] = []

    def channels(self) -> Channels:
        def send(url, msg):
            name = url[len("fake://"):]
            if name in self.down:
                raise ConnectionRefusedError(f"{name} is down")
            self.got.append((name, msg.kind, msg.title, msg.body))
        return Channels(senders={"fake": send})


def _run(worker: DeliveryWorker, clock: Clock, seconds: float, step: float) -> None:
    for _ in range(int(seconds / step)):
        worker.run_once()
        clock.t += step


@pytest.mark.parametrize("outage_s, step", [(20.0, 0.25), (20 * 60.0, 15.0)])
def test_every_alert_goes_out_within_seconds_of_the_receiver_coming_back(tmp_path, monkeypatch, outage_s, step):
    """The tester's policy (max_attempts = 3, else defaults): a 20 s and a 20 min outage lose nothing."""
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", "k" * 20)
    hook = Hook()  # its port is chosen, nothing listens yet
    path = tmp_path / "alerts.toml"
    path.write_text(f'[delivery]\nmax_attempts = 3\n[[contacts]]\nname = "parent"\nchannels = ["{hook.url}"]\n')
    policy = load_policy(path)
    policy = Policy(policy.contacts, _rules(), policy.delivery, path=policy.path)
    clock = Clock(T0)
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
    events = [_event(i) for i in range(4)]
    for ev in events:
        assert outbox.record_event(ev)
    worker = DeliveryWorker(outbox, Channels(timeout_s=5.0), raise_errors=True)
    try:
        _run(worker, clock, outage_s, step)
        assert {a["state"] for a in outbox.alerts()} == {"pending"}
        assert min(a["attempts"] for a in outbox.alerts()) > policy.delivery.max_attempts
        hook.up()
        back = clock.t
        while len(hook.received) < 4 and clock.t < back + 120.0:
            worker.run_once()
            clock.t += step
    finally:
        hook.down()
    assert sorted(k for k, _, _ in hook.received) == sorted(alert_key(e.id, "parent", 0, "initial") for e in events)
    assert {a["state"] for a in outbox.alerts()} == {"sent"}
    # injected time: with the default caps, the receiver is used again within 5 s (60 s after 10 min of outage)
    assert clock.t - back <= (5.0 if outage_s < 600 else 60.0) + 2 * step


@given(attempts=st.integers(1, 10_000), age_s=st.floats(0.0, 1e6), jitter=st.floats(0.0, 0.999))
def test_backoff_grows_and_never_exceeds_its_cap(attempts, age_s, jitter):
    d = Delivery()
    delay = d.backoff_s(attempts, age_s, jitter)
    urgent = age_s < d.urgent_min * 60.0
    assert 0 < delay <= (d.urgent_backoff_max_s if urgent else d.backoff_max_s)
    assert d.backoff_s(attempts + 1, age_s, jitter) >= delay  # grows until the cap
    assert d.backoff_s(attempts, age_s, jitter, urgent=False) <= d.backoff_max_s  # notices: the long cap


def test_an_alert_that_gives_up_tells_the_next_contact(tmp_path, caplog):
    fake = Fake("a")
    clock = Clock(T0)
    policy = Policy((Contact("a", ("fake://a",)), Contact("b", ("fake://b",))), _rules(),
                    Delivery(give_up_after_min=1.0))
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
    ev = _event(0)
    outbox.record_event(ev)
    worker = DeliveryWorker(outbox, fake.channels(), raise_errors=True)
    _run(worker, clock, 50.0, 5.0)
    assert fake.got == []  # still retrying, nobody else told yet
    caplog.set_level(logging.ERROR, logger="eegmon.streaming")
    _run(worker, clock, 30.0, 5.0)
    (initial,) = [a for a in outbox.alerts() if a["kind"] == "initial"]
    assert initial["state"] == "failed" and "not delivered in 1 min" in initial["last_error"]
    assert [(n, k) for n, k, _, _ in fake.got] == [("b", "delivery_failed:a")]
    _, _, title, body = fake.got[0]
    assert "could not reach a" in title and "a is down" in body and ev.id in body
    assert "gave up" in caplog.text and "the next contact 'b'" in caplog.text
    _run(worker, clock, 600.0, 30.0)
    assert len(fake.got) == 1  # told once


def test_the_last_contact_giving_up_tells_every_other_channel_and_failures_do_not_cascade(tmp_path, caplog):
    fake = Fake("a2", "b1")
    clock = Clock(T0)
    policy = Policy((Contact("a", ("fake://a1", "fake://a2")), Contact("b", ("fake://b1",))),
                    _rules(escalate_after_min=1.0), Delivery(give_up_after_min=2.0))
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
    outbox.record_event(_event(0))
    worker = DeliveryWorker(outbox, fake.channels(), raise_errors=True)
    caplog.set_level(logging.ERROR, logger="eegmon.streaming")
    _run(worker, clock, 1800.0, 10.0)
    kinds = [(n, k) for n, k, _, _ in fake.got]
    # a1 got its alert; b (escalated after 1 min) never got one: its failure went to a1 (the other channel
    # that works), and a2's failure went to b, which is down too: that one is not escalated again
    assert ("a1", "initial") in kinds and ("a1", "delivery_failed:b") in kinds
    assert not any(n in ("a2", "b1") for n, _ in kinds)
    states = {(a["contact"], a["channel"], a["kind"]): a["state"] for a in outbox.alerts()}
    assert states[("a", 1, "initial")] == "failed" and states[("b", 0, "delivery_failed:a")] == "failed"
    assert "not escalated again" in caplog.text
    n = len(outbox.alerts())
    _run(worker, clock, 3600.0, 60.0)
    assert len(outbox.alerts()) == n and not outbox.alerts("pending")  # bounded: nothing left to try


def test_a_contact_gone_from_the_policy_is_escalated_at_once(tmp_path, caplog):
    clock = Clock(T0)
    old = Policy((Contact("x", ("fake://x",)), Contact("y", ("fake://y",))), _rules())
    Outbox(tmp_path / "o.sqlite", old, clock=clock).record_event(_event(0))
    fake = Fake()
    new = Policy((Contact("y", ("fake://y",)),), _rules())
    outbox = Outbox(tmp_path / "o.sqlite", new, clock=clock)
    caplog.set_level(logging.ERROR, logger="eegmon.streaming")
    DeliveryWorker(outbox, fake.channels(), raise_errors=True).run_once()
    DeliveryWorker(outbox, fake.channels(), raise_errors=True).run_once()
    assert [(n, k) for n, k, _, _ in fake.got] == [("y", "delivery_failed:x")]
    assert "no longer in the policy" in caplog.text


@pytest.mark.parametrize("text, match", [
    ("", r"no \[\[contacts\]\]"),
    ("[alert]\nmin_probability = 0.9\n", r"no \[\[contacts\]\]"),
    ('[[contacts]]\nname = "a"\nchannels = []\n', r"contacts\[0\]\.channels must be a non-empty list"),
    ('[[contacts]]\nname = "a"\n', r"contacts\[0\]\.channels must be a non-empty list"),
    ('[[contacts]]\nname = "a"\nchannels = ["console://", "bogus://x"]\n',
     r"contacts\[0\]\.channels\[1\] is not a URL apprise can parse \(a bogus:// URL"),
    ('[[contacts]]\nname = "a"\nchannels = ["json://"]\n', r"channels\[0\] is not a URL apprise can parse"),
    ('[[contacts]]\nname = "a"\nchannels = ["bogus://h/${EEGMON_UNSET_SECRET}"]\n',
     "has the scheme 'bogus', which apprise does not know"),
    ('[[contacts]]\nname = "a"\nchannels = ["json://h/${EEGMON_UNSET_SECRET}"]\n',
     r"refers to \$\{EEGMON_UNSET_SECRET\}, which is not set"),  # parses; refused when the monitor starts
])
def test_a_policy_that_alerts_nobody_is_refused_with_exit_2(tmp_path, capsys, monkeypatch, text, match):
    monkeypatch.delenv("EEGMON_UNSET_SECRET", raising=False)
    path = tmp_path / "alerts.toml"
    path.write_text(text)
    for argv in (["monitor", "sim:1", "--max-s", "1", "--drain-s", "0", "--no-ack-server"],
                 ["alerts", "deliver", "--once"]):
        assert main([*argv, "--alerts", str(path), "--outbox", str(tmp_path / "o.sqlite")]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and str(path) in err
        with pytest.raises(EegmonError, match=match):
            load_policy(path).check_environment()
    assert not (tmp_path / "o.sqlite").exists()  # refused before anything started


def test_a_contact_less_policy_is_refused_by_the_real_command(tmp_path):
    path = tmp_path / "alerts.toml"
    path.write_text("[alert]\nmin_probability = 0.9\n")
    done = subprocess.run([sys.executable, "-m", "eegmon.cli", "monitor", "sim:1", "--alerts", str(path),
                           "--outbox", str(tmp_path / "o.sqlite")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"eegmon monitor: error: {path}: no [[contacts]]: nobody would be "
                                                'alerted. Add at least one, e.g. [[contacts]] name = "me", channels = '
                                                '["console://"].']
