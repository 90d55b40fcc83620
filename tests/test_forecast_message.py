"""The daily forecast message: opt-in, text, and delivery through the real outbox to a real SMTP server."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from eegmon.streaming.channels import Channels
from eegmon.streaming.forecast_message import forecast_text, queue_daily_forecast
from eegmon.streaming.outbox import DeliveryWorker, Outbox, SeizureEvent, event_id, notice_key
from eegmon.streaming.policy import AlertRules, Contact, Delivery, Policy, load_policy
from test_streaming_alerts import Clock, Hook, Smtp  # tests/ is on sys.path under pytest

from eegmon.cli import main
from eegmon.errors import EegmonError
from eegmon.forecast.risk import RiskForecast

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

PARIS = ZoneInfo("Europe/Paris")
#: Midnight in Paris, the start of the forecast day (no DST change that day).
DAY0 = datetime(2026, 12, 1, tzinfo=PARIS).timestamp()


def _fc(start: float, p: float, level: str, *, horizon_s: float = 86400.0, clim: float = 0.30) -> RiskForecast:
    return RiskForecast(start=start, horizon_s=horizon_s, probability=p, level=level, climatology=clim,
                        forecaster="test", issued_at=start)


def _day(start: float = DAY0) -> RiskForecast:
    return _fc(start, 0.62, "high")


def _hours(start: float, high: set[int], n: int = 24) -> list[RiskForecast]:
    return [_fc(start + 3600.0 * h, 0.08 if h in high else 0.01, "high" if h in high else "low",
                horizon_s=3600.0, clim=0.02) for h in range(n)]


def _policy(*contacts: Contact, **alert) -> Policy:
    return Policy(tuple(contacts), AlertRules(**alert),
                  Delivery(max_attempts=5, backoff_initial_s=1.0, backoff_max_s=60.0, timeout_s=5.0))


def _text(msg) -> str:
    """The plain-text body of an email (apprise may send it base64 or quoted-printable)."""
    parts = [p for p in msg.walk() if p.get_content_type() == "text/plain"] or [msg]
    return parts[0].get_payload(decode=True).decode(parts[0].get_content_charset() or "utf-8")


@pytest.fixture
def smtp():
    server = Smtp().up()
    yield server
    server.down()


def test_opted_in_contact_gets_one_email_others_nothing_and_twice_is_once(smtp, tmp_path, monkeypatch):
    monkeypatch.setenv("EEGMON_TEST_HOOK_KEY", "hook-key-0123456789")
    hook = Hook().up()
    try:
        clock = Clock(DAY0 + 60.0)
        policy = _policy(Contact("parent", (smtp.url,), daily_forecast=True), Contact("neighbour", (hook.url,)))
        outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
        worker = DeliveryWorker(outbox, Channels(), raise_errors=True)
        assert queue_daily_forecast(outbox, policy, _day(), _hours(DAY0, {3, 4, 5}), now=clock.t,
                                    tz="Europe/Paris") == 1
        assert worker.run_once() == 1
        assert worker.run_once() == 0
        assert len(smtp.messages) == 1 and hook.received == []  # the neighbour did not opt in
        msg = smtp.messages[0]
        assert msg["Subject"] == "Seizure risk today: HIGH (62 %)"
        body = _text(msg)
        assert "62 %" in body and "HIGH" in body and "30 %" in body and "03:00–06:00" in body
        assert "not a certainty" in body and "not a medical device" in body
        assert "Acknowledge" not in body and "alerts ack" not in body  # not a seizure alert
        assert msg["X-Idempotency-Key"] == notice_key("forecast", str(round(DAY0 * 1000)), "parent", 0)
        # the same day again (a second run of the daily job, even with a revised forecast): nothing new
        clock.t += 3 * 3600.0
        revised = _fc(DAY0, 0.70, "high")
        assert queue_daily_forecast(outbox, policy, revised, now=clock.t, tz="Europe/Paris") == 0
        assert worker.run_once() == 0
        assert len(smtp.messages) == 1
        # the next day is a new message
        clock.t = DAY0 + 86400.0 + 60.0
        assert queue_daily_forecast(outbox, policy, _day(DAY0 + 86400.0), now=clock.t) == 1
        assert worker.run_once() == 1 and len(smtp.messages) == 2
        # never a seizure event, never an alert row
        assert outbox.events() == [] and outbox.alerts() == []
        assert [n["state"] for n in outbox.notices()] == ["sent", "sent"]
    finally:
        hook.down()


def test_nobody_opted_in_queues_nothing(tmp_path):
    policy = _policy(Contact("parent", ("fake://a",)))
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=Clock(DAY0))
    assert queue_daily_forecast(outbox, policy, _day(), now=DAY0) == 0
    assert outbox.notices() == []


def test_queued_then_crash_reopened_outbox_delivers(smtp, tmp_path):
    path = tmp_path / "o.sqlite"
    clock = Clock(DAY0 + 60.0)
    policy = _policy(Contact("parent", (smtp.url,), daily_forecast=True))
    first = Outbox(path, policy, clock=clock)
    assert queue_daily_forecast(first, policy, _day(), now=clock.t) == 1
    first.close()  # the process dies before any delivery; a new one opens the same file
    clock.t += 600.0
    again = Outbox(path, policy, clock=clock)
    assert DeliveryWorker(again, Channels(), raise_errors=True).run_once() == 1
    assert len(smtp.messages) == 1 and "HIGH (62 %)" in smtp.messages[0]["Subject"]
    assert queue_daily_forecast(again, policy, _day(), now=clock.t) == 0


def test_failing_channel_is_retried_with_backoff(tmp_path):
    """SMTP down, then up: retried with the policy's backoff, delivered once; max_attempts gives up."""
    smtp = Smtp()  # its port is chosen but nothing listens yet
    try:
        clock = Clock(DAY0 + 60.0)
        policy = _policy(Contact("parent", (smtp.url,), daily_forecast=True))
        outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
        worker = DeliveryWorker(outbox, Channels(), raise_errors=True)
        queue_daily_forecast(outbox, policy, _day(), now=clock.t)
        assert worker.run_once() == 0
        (row,) = outbox.notices()
        assert row["state"] == "pending" and row["attempts"] == 1 and row["last_error"]
        assert clock.t + 1.0 <= row["next_try"] <= clock.t + 1.25  # backoff_initial_s, 0-25 % jitter
        assert worker.run_once() == 0 and outbox.notices()[0]["attempts"] == 1  # not due yet
        clock.t += 2.0
        assert worker.run_once() == 0
        row = outbox.notices()[0]
        assert row["attempts"] == 2 and clock.t + 2.0 <= row["next_try"] <= clock.t + 2.5  # doubled
        smtp.up()
        clock.t += 10.0
        assert worker.run_once() == 1
        assert len(smtp.messages) == 1 and outbox.notices()[0]["state"] == "sent"
    finally:
        smtp.down()

    failures: list[str] = []

    def fail(url, msg):
        failures.append(msg.kind)
        raise ConnectionRefusedError("server down")

    policy = _policy(Contact("parent", ("fake://a",), daily_forecast=True))
    outbox = Outbox(tmp_path / "o2.sqlite", policy, clock=clock)
    worker = DeliveryWorker(outbox, Channels(senders={"fake": fail}), raise_errors=True)
    queue_daily_forecast(outbox, policy, _day(), now=clock.t)
    for _ in range(10):
        worker.run_once()
        clock.t += 120.0
    assert failures == ["forecast"] * policy.delivery.max_attempts
    assert outbox.notices()[0]["state"] == "failed"


def test_never_escalated_or_repeated_and_not_listed_as_a_seizure(tmp_path, capsys):
    clock = Clock(DAY0 + 60.0)
    got: list[tuple[str, str]] = []
    policy = _policy(Contact("a", ("fake://a",), daily_forecast=True), Contact("b", ("fake://b",)),
                     escalate_after_min=5.0, reminder_every_min=10.0, max_reminders=3)
    db = tmp_path / "o.sqlite"
    outbox = Outbox(db, policy, clock=clock)
    worker = DeliveryWorker(outbox, Channels(senders={"fake": lambda url, m: got.append((url[7:], m.kind))}),
                            raise_errors=True)
    queue_daily_forecast(outbox, policy, _day(), now=clock.t)
    for _ in range(36):  # three hours in 5-minute rounds: escalation and reminders would be due by now
        worker.run_once()
        clock.t += 300.0
    assert got == [("a", "forecast")]
    assert outbox.events() == [] and outbox.alerts() == []
    outbox.close()
    assert main(["alerts", "list", "--outbox", str(db)]) == 0
    out = capsys.readouterr().out
    assert "no seizure events" in out
    # listed apart, as a message that is not a seizure event, sent once to contact a only
    lines = [ln.split() for ln in out.splitlines() if ln.startswith("    ")]
    assert "messages (not seizure events" in out and len(lines) == 1
    assert lines[0][:5] == ["forecast", "a", "channel", "0", "sent"] and "attempts" in lines[0]


def test_expired_forecast_is_not_sent(tmp_path):
    clock = Clock(DAY0 + 60.0)
    got: list[str] = []
    policy = _policy(Contact("a", ("fake://a",), daily_forecast=True))
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
    queue_daily_forecast(outbox, policy, _day(), now=clock.t)
    clock.t = DAY0 + 86400.0  # the worker was down all day: today's forecast is wrong tomorrow
    assert outbox.deliver_due(Channels(senders={"fake": lambda url, m: got.append(m.key)})) == 0
    assert got == [] and outbox.notices()[0]["state"] == "expired"
    # queueing a window that is already over queues nothing
    assert queue_daily_forecast(outbox, policy, _day(DAY0 + 3600.0), now=DAY0 + 90000.0) == 0


def test_outbox_file_from_before_notices_keeps_working(tmp_path, capsys):
    db = tmp_path / "o.sqlite"
    clock = Clock(DAY0 + 60.0)
    got: list[str] = []
    policy = _policy(Contact("a", ("fake://a",), daily_forecast=True), max_reminders=0, escalate_after_min=0.0)
    outbox = Outbox(db, policy, clock=clock)
    ev = SeizureEvent(event_id("p1", DAY0), "p1", DAY0, 0.95, DAY0 + 8.0)
    assert outbox.record_event(ev)
    outbox.close()
    con = sqlite3.connect(db)  # make it a file of the previous version: no notices table
    con.executescript("DROP INDEX notices_due; DROP TABLE notices;")
    con.close()
    outbox = Outbox(db, policy, clock=clock)
    assert queue_daily_forecast(outbox, policy, _day(), now=clock.t) == 1
    assert outbox.deliver_due(Channels(senders={"fake": lambda url, m: got.append(m.kind)})) == 2
    assert got == ["initial", "forecast"]  # the seizure alert first
    outbox.close()
    assert main(["alerts", "list", "--outbox", str(db)]) == 0
    out = capsys.readouterr().out
    seizures, messages = out.split("messages (not seizure events")
    assert ev.id in seizures and "forecast" not in seizures and "forecast" in messages


@pytest.mark.parametrize(("day", "utc_hours", "window", "high"), [
    # 25 Oct 2026: 03:00 CEST becomes 02:00 CET at 01:00 UTC; a 24-h window from local midnight ends at 23:00
    ((2026, 10, 25), (0, 1, 2), "Sun 25 Oct 2026 00:00 CEST – Sun 25 Oct 23:00 CET", "02:00 CEST–04:00 CET"),
    # 29 Mar 2026: 02:00 CET becomes 03:00 CEST at 01:00 UTC; the window ends at 01:00 the next day
    ((2026, 3, 29), (0, 1, 2), "Sun 29 Mar 2026 00:00 CET – Mon 30 Mar 01:00 CEST", "01:00 CET–05:00 CEST"),
    # no change inside the hours: no zone names (hours on another day get its weekday: see the next test)
    ((2026, 10, 25), (4, 5), "Sun 25 Oct 2026 00:00 CEST – Sun 25 Oct 23:00 CET", "05:00–07:00"),
])
def test_text_in_local_time_across_dst(day, utc_hours, window, high):
    start = datetime(*day, tzinfo=PARIS).timestamp()
    hour0 = datetime(*day, tzinfo=UTC).timestamp()
    hours = [_fc(hour0 + 3600.0 * h, 0.1, "high", horizon_s=3600.0, clim=0.02) for h in utc_hours]
    title, body = forecast_text(_fc(start, 0.62, "high"), hours, tz="Europe/Paris")
    assert title == "Seizure risk today: HIGH (62 %)"
    assert f"for {window} (Europe/Paris time)." in body
    assert f"Higher risk: {high}." in body


def test_text_contents_and_edges():
    start = datetime(2026, 12, 1, tzinfo=UTC).timestamp()
    hours = _hours(start, {22, 23, 24, 25}, n=30)
    title, body = forecast_text(_fc(start, 0.004, "low", clim=float("nan")), hours)
    assert title == "Seizure risk today: LOW (under 1 %)"
    lines = body.splitlines()
    assert lines[0] == ("Chance of at least one seizure: under 1 % for Tue 1 Dec 2026 00:00 – Wed 2 Dec 00:00 "
                        "(UTC time).")
    assert "Usual chance: not known." in lines and "LOW means clearly below the usual chance." in lines
    assert "Higher risk: 22:00–Wed 02:00." in lines
    assert lines[-1] == "eegmon is research software, not a medical device."
    _, body = forecast_text(_fc(start, 0.3, "medium"), _hours(start, set()))
    assert "No hour ahead stands out as higher risk." in body and "MEDIUM" in body
    assert "hour" not in forecast_text(_fc(start, 0.3, "medium"))[1]
    assert forecast_text(_fc(start, 0.996, "high"))[0] == "Seizure risk today: HIGH (over 99 %)"
    with pytest.raises(EegmonError, match="Did you mean 'Europe/Paris'"):
        forecast_text(_day(), tz="Europe/Pari")
    with pytest.raises(EegmonError, match="day must be a RiskForecast"):
        forecast_text({"probability": 0.5})
    with pytest.raises(EegmonError, match=r"hours\[0\] must be a RiskForecast"):
        forecast_text(_day(), [0.5])


def test_policy_daily_forecast_key(tmp_path):
    good = tmp_path / "alerts.toml"
    good.write_text('[[contacts]]\nname = "mum"\nchannels = ["console://"]\ndaily_forecast = true\n'
                    '[[contacts]]\nname = "dad"\nchannels = ["console://"]\n')
    assert [c.daily_forecast for c in load_policy(good).contacts] == [True, False]
    cases = {'daily_forecast = "yes"': r"contacts\[0\]\.daily_forecast must be true or false, got 'yes'",
             "daily_forecast = 1": r"contacts\[0\]\.daily_forecast must be true or false, got 1",
             "daily_forcast = true": r"unknown key contacts\[0\]\.daily_forcast; allowed: channels, daily_forecast"}
    for line, match in cases.items():
        bad = tmp_path / "bad.toml"
        bad.write_text(f'[[contacts]]\nname = "mum"\nchannels = ["console://"]\n{line}\n')
        with pytest.raises(EegmonError, match=match) as info:
            load_policy(bad)
        assert str(info.value).startswith(f"{bad}: ") and "\n" not in str(info.value)


def test_email_keeps_line_breaks(smtp, tmp_path):
    clock = Clock(DAY0 + 60.0)
    policy = _policy(Contact("parent", (smtp.url,), daily_forecast=True))
    outbox = Outbox(tmp_path / "o.sqlite", policy, clock=clock)
    queue_daily_forecast(outbox, policy, _day(), now=clock.t)
    outbox.deliver_due(Channels())
    assert _text(smtp.messages[0]).splitlines()[-1].startswith("Idempotency key:")
