"""Messages for families: the alias, local times, what to do, who acknowledged, phone pages, the countdown.

Real SQLite outboxes and a real AckServer on 127.0.0.1; clocks are injected (nothing waits for time).
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.error
import urllib.parse
import urllib.request

import pytest
from eegmon.streaming.ack import AckServer, TokenError, TokenSigner
from eegmon.streaming.channels import Channels, Message
from eegmon.streaming.outbox import DeliveryWorker, Outbox, SeizureEvent, event_id
from eegmon.streaming.policy import AlertRules, Contact, PatientSettings, Policy

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

SECRET = "0123456789abcdef-family"
STREAM = "mrn-0042-smith"  # a stream id may be a patient identifier: it must not show
# 2026-03-29 00:55 UTC is 00:55 GMT; 01:05 UTC is 02:05 BST (London's clocks went forward at 01:00 UTC)
ONSET = dt.datetime(2026, 3, 29, 0, 55, tzinfo=dt.UTC).timestamp()
DETECTED = ONSET + 600.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _policy(n: int = 3, *, instructions: str = "Stay with Sam; rescue medication after 5 minutes.",
            **rules) -> Policy:
    contacts = tuple(Contact(name, (f"fake://{name}",)) for name in ("mum", "dad", "nan")[:n])
    rules = {"refractory_s": 1.0, "escalate_after_min": 5.0, "reminder_every_min": 10.0, "max_reminders": 2} | rules
    return Policy(contacts, AlertRules(**rules), patient=PatientSettings("Sam", "Europe/London", instructions))


class Family:
    """An outbox, a worker whose fake channel keeps every message, and one recorded event."""

    def __init__(self, tmp_path, policy: Policy, *, ack_link=None, cancel_link=None) -> None:
        self.clock = Clock(DETECTED + 2.0)
        self.got: list[tuple[str, Message]] = []
        self.outbox = Outbox(tmp_path / "o.sqlite", policy, clock=self.clock)
        channels = Channels(senders={"fake": lambda url, m: self.got.append((url[7:], m))})
        self.worker = DeliveryWorker(self.outbox, channels, ack_link=ack_link, cancel_link=cancel_link,
                                     raise_errors=True)
        self.event = SeizureEvent(event_id(STREAM, ONSET), STREAM, ONSET, 0.97, DETECTED)

    def record(self, **kw) -> None:
        assert self.outbox.record_event(self.event, **kw)

    def kinds(self, start: int = 0) -> list[tuple[str, str]]:
        return sorted((who, m.kind) for who, m in self.got[start:])


def test_message_reads_for_a_family_across_a_dst_change(tmp_path, caplog):
    fam = Family(tmp_path, _policy(), ack_link=lambda eid, c: f"https://home.example/ack?t={eid}-{c}")
    with caplog.at_level(logging.DEBUG, logger="eegmon.streaming"):
        fam.record()
        fam.worker.run_once()
    (who, msg), = fam.got
    assert who == "mum" and msg.kind == "initial"
    lines = msg.body.splitlines()
    assert msg.title == "Seizure alert: Sam"
    # detected 02:05 BST, started 00:55 GMT: the same day, so no date
    assert lines[0] == ("eegmon detected a possible seizure of Sam at 02:05 (Europe/London): it started 00:55, "
                        "still going on when detected.")
    assert "What to do: Stay with Sam; rescue medication after 5 minutes." in lines
    assert msg.ack_url == f"https://home.example/ack?t={fam.event.id}-mum" and msg.ack_url in msg.body
    assert f"eegmon alerts ack {fam.event.id}" in msg.body
    assert lines[-1] == f"Idempotency key: {msg.key}"
    assert STREAM not in msg.title + msg.body and STREAM not in caplog.text

    # the escalation and the reminder say what they are; a later day shows its date
    fam.clock.t = DETECTED + 86400.0 + 60.0
    fam.worker.run_once()
    by_kind = {m.kind: m for _, m in fam.got}
    assert by_kind["escalation:1"].body.startswith("Nobody has acknowledged for 5 min: you are the next contact.")
    assert by_kind["reminder:1"].body.startswith("Reminder 1: not yet acknowledged.")
    assert by_kind["reminder:1"].title == "Reminder: seizure alert for Sam not yet acknowledged"
    assert "at Sun 29 Mar 2026 02:05 (Europe/London)" in by_kind["reminder:1"].body


def test_default_instructions_and_recovered_alerts(tmp_path):
    fam = Family(tmp_path, _policy(1, instructions=""))
    fam.record(recovered=True)
    fam.worker.run_once()
    (_, msg), = fam.got
    assert msg.title == "Seizure alert: Sam (recovered)"
    assert "What to do: go to Sam now and stay with them" in msg.body
    assert "Recovered from the archive at 02:05 (Europe/London)" in msg.body
    assert msg.ack_url == ""  # no ack link without a signer


def test_an_acknowledgement_tells_exactly_the_others_already_alerted_once(tmp_path):
    fam = Family(tmp_path, _policy())
    fam.record()
    fam.worker.run_once()  # mum
    fam.clock.t += 5 * 60.0
    fam.worker.run_once()  # dad (escalation); nan not yet
    assert fam.kinds() == [("dad", "escalation:1"), ("mum", "initial")]
    fam.clock.t = DETECTED + 2 + 5 * 60 + 14  # 02:10:16 BST
    assert fam.outbox.acknowledge(fam.event.id, by="link:dad")
    assert not fam.outbox.acknowledge(fam.event.id, by="link:mum")  # a second one tells nobody again
    fam.worker.run_once()
    fam.clock.t += 3600.0
    fam.worker.run_once()
    fam.worker.run_once()
    assert fam.kinds(2) == [("mum", "acknowledged")]  # not dad (he did it), not nan (never alerted), once
    msg = fam.got[2][1]
    assert msg.body.startswith("Sam's alert was acknowledged by dad at 02:10 (Europe/London)")
    assert msg.event_id == ""  # a notice: never escalated or reminded
    assert [n["state"] for n in fam.outbox.notices()] == ["sent"]


def _post(url: str, token: str) -> tuple[int, str]:
    data = urllib.parse.urlencode({"t": token}).encode()
    try:
        with urllib.request.urlopen(url, data=data, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


@pytest.fixture()
def served(tmp_path):
    """A Family with a countdown of 60 s, a signer on its clock and a real AckServer."""
    policy = _policy(countdown_s=60.0)
    holder: dict = {}
    fam = Family(tmp_path, policy,
                 ack_link=lambda eid, c: f"{holder['url']}/ack?t={holder['signer'].make(eid, c)}",
                 cancel_link=lambda eid, c: f"{holder['url']}/cancel?t={holder['signer'].make(eid, c, 'cancel')}")
    signer = TokenSigner(SECRET, ttl_s=7200.0, clock=fam.clock)
    server = AckServer(signer, fam.outbox).start()
    holder.update(url=server.url, signer=signer)
    fam.signer, fam.url = signer, server.url
    try:
        yield fam
    finally:
        server.stop()
        fam.outbox.close()


def test_ack_pages_first_tap_second_tap_and_forged(served):
    fam = served
    fam.record()
    token = fam.signer.make(fam.event.id, "mum")
    status, page = _get(f"{fam.url}/ack?t={token}")
    assert status == 200
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "Seizure alert: Sam" in page and "<button" in page and "I am on it" in page
    assert "02:05 (Europe/London)" in page and "What to do:</b> Stay with Sam" in page
    assert STREAM not in page
    assert fam.outbox.event(fam.event.id)["acked_at"] is None  # a link preview does not acknowledge

    fam.clock.t = DETECTED + 9 * 60  # 02:14 BST
    status, page = _post(f"{fam.url}/ack", token)
    assert status == 200 and "Acknowledged: thank you" in page
    assert fam.outbox.event(fam.event.id)["acked_by"] == "link:mum"
    fam.clock.t += 120.0
    status, page = _post(f"{fam.url}/ack", token)  # the same link tapped again
    assert status == 200 and "already acknowledged by mum at 02:14 (Europe/London)" in page
    assert "Refused" not in page
    other = fam.signer.make(fam.event.id, "dad")  # another contact's link, after mum did it
    status, page = _get(f"{fam.url}/ack?t={other}")
    assert status == 200 and "already acknowledged by mum at 02:14" in page and "<button" not in page

    body, sig = token.split(".")
    forged = TokenSigner("another-secret-0123456", clock=fam.clock).make(fam.event.id, "mum")
    for bad in (forged, body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig):
        status, page = _post(f"{fam.url}/ack", bad)
        assert status == 403 and "Refused: this link was not made by this eegmon" in page
    expired = fam.signer.make(fam.event.id, "nan")
    fam.clock.t += 7201.0
    status, page = _post(f"{fam.url}/ack", expired)
    assert status == 403 and "this link has expired" in page


def test_an_ack_token_cannot_cancel_and_a_cancel_token_cannot_acknowledge(served):
    fam = served
    fam.record()
    ack, cancel = fam.signer.make(fam.event.id, "mum"), fam.signer.make(fam.event.id, "mum", "cancel")
    with pytest.raises(TokenError, match="not a cancel link"):
        fam.signer.cancel(ack, fam.outbox)
    with pytest.raises(TokenError, match="not an acknowledgement link"):
        fam.signer.acknowledge(cancel, fam.outbox)
    assert _post(f"{fam.url}/cancel", ack)[0] == 403
    assert _post(f"{fam.url}/ack", cancel)[0] == 403
    assert _get(f"{fam.url}/cancel?t={ack}")[0] == 403
    ev = fam.outbox.event(fam.event.id)
    assert ev["acked_at"] is None and ev["cancelled_at"] is None
    assert fam.outbox.acknowledge(fam.event.id, by="link:mum")
    status, page = _get(f"{fam.url}/cancel?t={cancel}")  # a false alarm can still be cancelled after an ack
    assert status == 200 and "already acknowledged by mum" in page and "Cancel: false alarm</button>" in page


def test_cancel_within_the_countdown_tells_nobody_else(served):
    fam = served
    fam.record()
    fam.worker.run_once()
    (who, msg), = fam.got
    assert who == "mum"
    cancel = next(line for line in msg.body.splitlines() if line.startswith("Cancel: false alarm"))
    link = cancel.rsplit(" ", 1)[1]
    assert link.startswith(f"{fam.url}/cancel?t=")
    fam.clock.t += 30.0  # within the 60-s countdown
    status, page = _get(link)
    assert status == 200 and "Cancel: false alarm" in page and fam.outbox.event(fam.event.id)["cancelled_at"] is None
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["t"][0]
    status, page = _post(f"{fam.url}/cancel", token)
    assert status == 200 and "Cancelled as a false alarm" in page
    status, page = _post(f"{fam.url}/cancel", token)  # tapped again
    assert status == 200 and "already cancelled as a false alarm by mum at 02:05 (Europe/London)" in page
    for _ in range(3):
        fam.clock.t += 3600.0
        fam.worker.run_once()
    assert fam.kinds() == [("mum", "initial")]  # nobody else alerted, no reminder, no follow-up
    ev, = fam.outbox.events()  # marked, not deleted
    assert ev["cancelled_by"] == "link:mum" and ev["acked_at"] is None
    assert fam.outbox.notices() == []


def test_cancel_after_the_countdown_sends_a_false_alarm_follow_up(served):
    fam = served
    fam.record()
    fam.worker.run_once()
    fam.clock.t += 59.0
    fam.worker.run_once()
    assert fam.kinds() == [("mum", "initial")]  # the countdown is not over
    fam.clock.t += 2.0
    fam.worker.run_once()
    assert fam.kinds() == [("dad", "countdown"), ("mum", "initial"), ("nan", "countdown")]
    told = {who: m for who, m in fam.got}
    assert told["dad"].body.startswith("Nobody cancelled it within 60 s: every contact is told.")
    assert "Cancel: false alarm" not in told["dad"].body and told["dad"].ack_url.startswith(f"{fam.url}/ack?t=")
    fam.clock.t += 120.0
    assert fam.signer.cancel(fam.signer.make(fam.event.id, "mum", "cancel"), fam.outbox) == fam.event.id
    for _ in range(3):
        fam.worker.run_once()
        fam.clock.t += 3600.0
    assert fam.kinds(3) == [("dad", "false_alarm"), ("nan", "false_alarm")]  # once each, not mum
    assert "False alarm, sorry: mum cancelled Sam's seizure alert" in fam.got[3][1].body
    assert fam.outbox.event(fam.event.id)["cancelled_at"] is not None
    assert not [a for a in fam.outbox.alerts() if a["state"] == "pending"]


def test_a_live_system_puts_the_cancel_link_in_the_first_alert_of_a_countdown(tmp_path):
    from eegmon.streaming.channels import Channels
    from eegmon.streaming.live import LiveSystem
    from eegmon.streaming.outbox import SeizureEvent, event_id
    from eegmon.streaming.policy import AckSettings, AlertRules, Contact, Policy

    got = []
    policy = Policy((Contact("mum", ("test://m",)), Contact("dad", ("test://d",))), AlertRules(countdown_s=60.0),
                    ack=AckSettings(secret="s" * 20, base_url="https://home.example"))
    live = LiveSystem(tmp_path / "alerts.sqlite", policy, serve_acks=False,
                      channels=Channels(senders={"test": lambda url, msg: got.append((url, msg))}))
    live.outbox.record_event(SeizureEvent(event_id("p1", 1.7e9), "p1", 1.7e9, 0.9, 1.7e9 + 5))
    live.worker.run_once()
    (url, msg), = got  # only the first contact, before the countdown ends
    assert url == "test://m" and "https://home.example/cancel?t=" in msg.body
    assert msg.ack_url.startswith("https://home.example/ack?t=")
    live.stop()
