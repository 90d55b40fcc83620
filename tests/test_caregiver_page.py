"""The caregiver page (``/home``): per-contact signed links, revocation, status, acknowledging from the page.

A real SQLite outbox and a real AckServer on 127.0.0.1 (plain http.client); clocks are injected.
:class:`Home` is shared with the browser and reverse-proxy tests.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import pytest
from eegmon.streaming.ack import PAGE_LINKS_KEY, AckServer, PageLinks, TokenError, TokenSigner
from eegmon.streaming.channels import Channels
from eegmon.streaming.forecast_message import queue_daily_forecast
from eegmon.streaming.outbox import DeliveryWorker, Outbox, SeizureEvent, event_id
from eegmon.streaming.policy import AckSettings, AlertRules, Contact, PatientSettings, Policy, parse_policy
from eegmon.streaming.supervision import Heartbeat, Watchdog
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.cli import main
from eegmon.forecast.risk import RiskForecast

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

SECRET = "0123456789abcdef-caregiver"
STREAM = "mrn-0042-smith"  # a stream id may be a patient identifier: it must never show
# 2026-12-01 02:10 UTC = 02:10 in London (GMT)
NOW = dt.datetime(2026, 12, 1, 2, 20, tzinfo=dt.UTC).timestamp()
INSTRUCTIONS = "Stay with Sam; rescue medication after 5 minutes."


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def policy(alias: str = "Sam", instructions: str = INSTRUCTIONS) -> Policy:
    contacts = tuple(Contact(name, (f"fake://{name}",), name == "mum") for name in ("mum", "dad", "nan"))
    return Policy(contacts, AlertRules(refractory_s=1.0, escalate_after_min=30.0),
                  ack=AckSettings(secret=SECRET, port=0),
                  patient=PatientSettings(alias, "Europe/London", instructions))


class Home:
    """An outbox with a heartbeat, two seizure events (one open, sent to mum; one acknowledged by mum), a
    quality episode and a forecast notice, a signer and page links on one clock, and a running AckServer."""

    def __init__(self, tmp_path, pol: Policy | None = None) -> None:
        self.clock = Clock(NOW - 3600)
        self.policy = pol or policy()
        self.outbox = Outbox(tmp_path / "o.sqlite", self.policy, clock=self.clock)
        self.sent: list = []
        worker = DeliveryWorker(self.outbox, Channels(senders={"fake": lambda url, m: self.sent.append(m)}),
                                raise_errors=True)
        self.acked = SeizureEvent(event_id(STREAM, NOW - 3000), STREAM, NOW - 3000, 0.91, NOW - 2990)
        self.open = SeizureEvent(event_id(STREAM, NOW - 120), STREAM, NOW - 120, 0.97, NOW - 100)
        assert self.outbox.record_event(self.acked)
        worker.run_once()
        self.clock.t = NOW - 2900
        assert self.outbox.acknowledge(self.acked.id, by="link:mum")
        self.outbox.record_quality(STREAM, "bad_signal_start", NOW - 2000, "flat")
        self.outbox.record_quality(STREAM, "bad_signal_end", NOW - 1900, "")
        self.outbox.record_quality(STREAM, "gap", NOW - 600, "2.0 s")
        day = dt.datetime(2026, 12, 1, tzinfo=dt.UTC).timestamp()
        fc = RiskForecast(start=day, horizon_s=86400.0, probability=0.62, level="high", climatology=0.3,
                          forecaster="cycles", issued_at=day - 300)
        assert queue_daily_forecast(self.outbox, self.policy, fc, tz="Europe/London", now=day - 200) == 1
        self.clock.t = NOW - 90
        assert self.outbox.record_event(self.open)
        worker.run_once()
        self.clock.t = NOW
        Heartbeat(self.outbox, 10.0, clock=lambda: NOW - 4, last_data=lambda: NOW - 5).beat()
        self.signer = TokenSigner(SECRET, ttl_s=600.0, clock=self.clock)
        self.links = PageLinks(self.signer, self.outbox)
        self.server = AckServer(self.signer, self.outbox).start()
        self.host, self.port = self.server.httpd.server_address[:2]

    def link(self, contact: str = "mum", days: float = 90.0) -> str:
        return self.links.issue(contact, days)[0]

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        con = http.client.HTTPConnection(self.host, self.port, timeout=10)
        try:
            body = urllib.parse.urlencode(form).encode() if form is not None else None
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
            con.request(method, path, body=body, headers=headers)
            r = con.getresponse()
            return r.status, r.read().decode()
        finally:
            con.close()

    def get(self, token: str) -> tuple[int, str]:
        return self.request("GET", f"/home?t={token}")

    def ack(self, token: str, event: str) -> tuple[int, str]:
        return self.request("POST", "/home", {"t": token, "e": event})

    def event(self, eid: str) -> dict:
        return self.outbox.event(eid)

    def stop(self) -> None:
        self.server.stop()
        self.outbox.close()


@pytest.fixture()
def home(tmp_path):
    h = Home(tmp_path)
    yield h
    h.stop()


def test_page_shows_status_alerts_and_forecast(home):
    code, page = home.get(home.link("mum"))
    assert code == 200
    assert "<h1>Sam</h1>" in page and "For mum" in page
    assert "Monitoring is running (last sign of life 4 s ago; last data at " in page and ", 5 s ago)." in page
    assert "Signal: good." in page and "gap in the data" in page and "signal good again" in page
    assert "Possible seizure at 02:18</b> (it started 02:18)" in page  # local time (London = UTC in December)
    assert "Delivered to mum; not acknowledged yet." in page
    assert "Acknowledged by mum at 01:31." in page
    assert page.count("I am on it") == 1 and f"value='{home.open.id}'" in page
    assert f"<b>What to do:</b> {INSTRUCTIONS}" in page
    assert "Seizure risk today: HIGH (62&nbsp;%)" in page
    assert "http-equiv='refresh' content='60" in page
    assert STREAM not in page


def test_acknowledge_from_the_page_as_the_links_contact(home, caplog):
    token = home.link("mum")
    with caplog.at_level(logging.DEBUG):
        code, page = home.ack(token, home.open.id)
        assert code == 200 and "Acknowledged: thank you." in page
        assert home.event(home.open.id)["acked_by"] == "link:mum"
        assert "Acknowledged by mum at 02:20." in page and "I am on it" not in page
        code, page = home.ack(token, home.open.id)  # a second tap: who did, not an error
        assert code == 200 and "Already acknowledged by mum at 02:20." in page
    assert token not in caplog.text and token.split(".")[1] not in caplog.text
    assert STREAM not in caplog.text
    assert "acknowledged from the caregiver page" in caplog.text  # the log is there, without the token


def test_a_contact_not_alerted_cannot_acknowledge(home):
    token = home.link("dad")  # dad's escalation is not due yet
    code, page = home.get(token)
    assert code == 200 and "I am on it" not in page and "You have not been alerted about this one" in page
    code, page = home.ack(token, home.open.id)
    assert code == 403 and "you were not alerted about that alert" in page
    assert home.event(home.open.id)["acked_at"] is None
    code, page = home.ack(token, "0" * 16)
    assert code == 404 and "not in the outbox" in page


def test_get_never_changes_state(home):
    token = home.link("mum")
    before = (home.outbox.events(), home.outbox.notices(), home.outbox.get_meta(PAGE_LINKS_KEY))
    for path in (f"/home?t={token}", f"/home?t={token}&e={home.open.id}", f"/home?e={home.open.id}"):
        assert home.request("GET", path)[0] in (200, 403)
    assert (home.outbox.events(), home.outbox.notices(), home.outbox.get_meta(PAGE_LINKS_KEY)) == before


def test_no_link_forged_expired_revoked_are_refused_without_page_content(home):
    good = home.link("mum")
    body, sig = good.split(".")
    forged = [TokenSigner("another-secret-000000", clock=home.clock).make_page("mum", "x" * 12, 3600),
              body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + sig]
    cases = {"": "incomplete or damaged", forged[0]: "forged", forged[1]: "forged"}
    expiring = home.link("mum", days=1.0)
    revoked = home.link("nan")
    assert home.links.revoke("nan") == 1
    for token, why in cases.items():
        for code, page in (home.get(token), home.ack(token, home.open.id)):
            assert code == 403 and why in page and "Sam" not in page and "Seizure" not in page, page
    assert home.get(revoked)[0] == 403 and "was revoked" in home.get(revoked)[1]
    home.clock.t += 86401.0
    code, page = home.get(expiring)
    assert code == 403 and "page link has expired" in page and "Sam" not in page
    assert home.ack(expiring, home.open.id)[0] == 403
    assert home.event(home.open.id)["acked_at"] is None
    assert home.get(good)[0] == 200


def test_token_purposes_are_separate(home):
    ack = home.signer.make(home.open.id, "mum")
    page = home.link("mum")
    code, text = home.get(ack)
    assert code == 403 and "not a caregiver page link" in text
    assert home.request("POST", "/ack", {"t": page})[0] == 403
    assert home.request("GET", f"/ack?t={page}")[0] == 403
    assert home.request("POST", "/cancel", {"t": page})[0] == 403
    assert home.event(home.open.id)["acked_at"] is None
    with pytest.raises(TokenError, match="not an acknowledgement link"):
        home.signer.check(page, "ack")


def test_revocation_one_or_all_and_the_record(home):
    a, b = home.link("mum"), home.link("mum")
    dad = home.link("dad")
    ids = [r["id"] for r in home.links.links() if r["contact"] == "mum"]
    assert len(ids) == 2
    assert home.links.revoke("mum", ids[0]) == 1
    assert home.links.revoke("mum", ids[0]) == 0  # already revoked
    codes = {home.get(t)[0] for t in (a, b)}
    assert codes == {200, 403}
    assert home.links.revoke("mum") == 1
    assert home.get(a)[0] == home.get(b)[0] == 403 and home.get(dad)[0] == 200
    record = home.outbox.get_meta(PAGE_LINKS_KEY)
    with pytest.raises(Exception, match="no unexpired page link"):
        home.links.revoke("dad", ids[0])  # mum's link, not dad's
    assert home.outbox.get_meta(PAGE_LINKS_KEY) == record  # the refused change was rolled back whole
    # a link from an outbox that never recorded it (another eegmon, or a rebuilt outbox) is refused
    stranger = home.signer.make_page("mum", "feedfacecafe", 3600)
    assert home.get(stranger)[0] == 403 and "not known here" in home.get(stranger)[1]


def test_contact_removed_from_the_policy_is_refused(tmp_path):
    home = Home(tmp_path)
    try:
        token = home.link("nan")
    finally:
        home.stop()
    fewer = Policy(home.policy.contacts[:2], home.policy.alert, ack=home.policy.ack, patient=home.policy.patient)
    (tmp_path / "x").mkdir()
    again = Home(tmp_path / "x", fewer)
    try:
        again.outbox.set_meta(PAGE_LINKS_KEY, home.outbox.get_meta(PAGE_LINKS_KEY))
        code, page = again.get(token)
        assert code == 403 and "no longer in the alert policy" in page
    finally:
        again.stop()


def test_alias_and_instructions_are_escaped(tmp_path):
    home = Home(tmp_path, policy(alias="<b>Sam</b>&co", instructions="<script>alert(1)</script> & call"))
    try:
        code, page = home.get(home.link("mum"))
        assert code == 200
        assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; call" in page
        assert "<h1>&lt;b&gt;Sam&lt;/b&gt;&amp;co</h1>" in page
    finally:
        home.stop()


def test_monitoring_stopped_and_bad_signal(home):
    home.outbox.record_quality(STREAM, "bad_signal_start", NOW - 300, "flat")
    token = home.link("mum")
    page = home.get(token)[1]
    assert "Signal: bad since 02:15" in page
    Heartbeat(home.outbox, 10.0, clock=lambda: NOW - 30).stop("ended")
    assert "Monitoring ended (the recording it was replaying is finished) at 02:19" in home.get(token)[1]
    Heartbeat(home.outbox, 10.0, clock=lambda: NOW - 600).beat()
    page = home.get(token)[1]
    assert "Monitoring has stopped unexpectedly: the last sign of life was at 02:10 (10 min ago)" in page
    assert "Signal: not known while monitoring is not running." in page
    assert Watchdog(home.outbox, home.policy, clock=home.clock).check() == "stale"  # the family is told ...
    page = home.get(token)[1]
    assert "Latest messages about the monitoring:" in page  # ... and the page lists it, once (not per channel)
    assert page.count("monitoring of Sam has stopped") == 1 and "02:20: monitoring of Sam has stopped" in page


def test_request_limits_apply_to_the_page(home):
    token = home.link("mum")
    assert home.request("GET", "/home?t=" + "A" * 9000)[0] == 414
    assert home.request("POST", "/home", {"t": token, "e": "x" * 5000})[0] == 413
    assert home.request("PUT", f"/home?t={token}")[0] == 405
    assert home.get(token)[0] == 200  # and it goes on


def test_page_link_days_is_validated():
    base = {"contacts": [{"name": "mum", "channels": ["console://"]}]}
    assert parse_policy(base | {"ack": {"page_link_days": 30}}).ack.page_link_days == 30.0
    for bad in (0, -1, 400, "90"):
        with pytest.raises(Exception, match="page_link_days"):
            parse_policy(base | {"ack": {"page_link_days": bad}})


# --------------------------------------------------------------------------- the token parser
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_a_token_error_never_a_crash(text):
    signer = TokenSigner(SECRET)
    for purpose in ("ack", "cancel", "page"):
        with pytest.raises(TokenError):
            signer.check(text, purpose)


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                                  max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["e", "c", "x", "n", "p", "z"]), _JSON, max_size=6) | _JSON | st.binary())
def test_any_signed_payload_is_a_payload_or_a_token_error(payload):
    """Payloads signed with the right key (as only a bug could make): a dict of the right shape or TokenError."""
    import base64
    import hashlib
    import hmac

    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    mac = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
    token = ".".join(base64.urlsafe_b64encode(b).rstrip(b"=").decode() for b in (raw, mac))
    signer = TokenSigner(SECRET, clock=lambda: 0.0)
    for purpose in ("ack", "cancel", "page"):
        try:
            data = signer.check(token, purpose)
        except TokenError:
            continue
        assert isinstance(data["c"], str) and isinstance(data["n"], str) and data["x"] >= 0
        assert data.get("p", "ack") == purpose and (purpose == "page" or isinstance(data["e"], str))


# --------------------------------------------------------------------------- the CLI
@pytest.fixture()
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("EEGMON_TEST_ACK_SECRET", SECRET)
    pol = tmp_path / "alerts.toml"
    pol.write_text('[patient]\nalias = "Sam"\n[ack]\nsecret = "${EEGMON_TEST_ACK_SECRET}"\n'
                   'base_url = "https://home.example/eegmon/"\npage_link_days = 30\n'
                   '[[contacts]]\nname = "mum"\nchannels = ["console://"]\n'
                   '[[contacts]]\nname = "dad"\nchannels = ["console://"]\n')
    outbox = tmp_path / "o.sqlite"
    Outbox(outbox, parse_policy({"contacts": [{"name": "x", "channels": ["console://"]}]})).close()
    return ["--alerts", str(pol), "--outbox", str(outbox)], outbox


def test_cli_page_link_and_revoke_links(cli, capsys, caplog):
    args, outbox = cli
    with caplog.at_level(logging.DEBUG):
        assert main(["alerts", "page-link", "--contact", "mum", *args]) == 0
    url, info = capsys.readouterr().out.splitlines()
    assert url.startswith("https://home.example/eegmon/home?t=")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["t"][0]
    assert token not in caplog.text
    link = info.split()[3]
    assert "valid for 30 days" in info and f"--link {link}" in info
    signer = TokenSigner(SECRET)
    assert signer.check(token, "page")["n"] == link
    assert main(["alerts", "list", *args]) == 0
    listed = capsys.readouterr().out
    assert f"{link}  mum" in listed and "working" in listed and token not in listed
    assert main(["alerts", "page-link", "--contact", "mum", *args]) == 0
    capsys.readouterr()
    assert main(["alerts", "revoke-links", "--contact", "mum", "--link", link, *args]) == 0
    assert capsys.readouterr().out.strip() == f"revoked 1 working link {link} of mum"
    assert main(["alerts", "revoke-links", "--contact", "mum", *args]) == 0
    assert capsys.readouterr().out.strip() == "revoked 1 working page links of mum"
    assert main(["alerts", "revoke-links", "--contact", "dad", *args]) == 0
    assert capsys.readouterr().out.strip() == "dad had no working page links"


@pytest.mark.parametrize(("argv", "message"), [
    (["page-link", "--contact", "stranger"], "no contact named 'stranger'"),
    (["revoke-links", "--contact", "stranger"], "no contact named 'stranger'"),
    (["page-link"], "needs --contact NAME"),
    (["revoke-links", "--contact", "mum", "--link", "nope"], "no unexpired page link 'nope'"),
    (["list", "--link", "x"], "--link is for 'revoke-links' only"),
])
def test_cli_bad_input_is_one_line_exit_2(cli, capsys, argv, message):
    args, _ = cli
    assert main(["alerts", *argv, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_cli_page_link_needs_a_secret_and_an_outbox(tmp_path, capsys):
    pol = tmp_path / "alerts.toml"
    pol.write_text('[[contacts]]\nname = "mum"\nchannels = ["console://"]\n')
    Outbox(tmp_path / "o.sqlite", parse_policy({"contacts": [{"name": "x", "channels": ["console://"]}]})).close()
    assert main(["alerts", "page-link", "--contact", "mum", "--alerts", str(pol), "--outbox",
                 str(tmp_path / "o.sqlite")]) == 2
    assert "[ack] secret" in capsys.readouterr().err
    assert main(["alerts", "page-link", "--contact", "mum", "--alerts", str(pol), "--outbox",
                 str(tmp_path / "none.sqlite")]) == 2
    assert "no such outbox" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()


def test_served_by_alerts_serve_and_revoked_from_another_process(tmp_path, monkeypatch, capsys):
    """A real ``eegmon alerts serve`` process; links made and revoked by the CLI take effect in it at once."""
    monkeypatch.setenv("EEGMON_TEST_ACK_SECRET", SECRET)
    pol = tmp_path / "alerts.toml"
    pol.write_text('[patient]\nalias = "Sam"\n[ack]\nsecret = "${EEGMON_TEST_ACK_SECRET}"\nport = 0\n'
                   '[[contacts]]\nname = "mum"\nchannels = ["console://"]\n')
    db = tmp_path / "o.sqlite"
    mum = parse_policy({"contacts": [{"name": "mum", "channels": ["console://"]}]})
    outbox = Outbox(db, mum)
    # the serving process judges "the last 24 h" by the real clock, not by NOW
    onset = time.time() - 60.0
    ev = SeizureEvent(event_id(STREAM, onset), STREAM, onset, 0.97, onset + 10)
    assert outbox.record_event(ev)
    outbox.close()
    args = ["--alerts", str(pol), "--outbox", str(db)]
    assert main(["alerts", "page-link", "--contact", "mum", *args]) == 0
    query = urllib.parse.urlsplit(capsys.readouterr().out.splitlines()[0]).query
    token = urllib.parse.parse_qs(query)["t"][0]
    proc = subprocess.Popen([sys.executable, "-m", "eegmon.cli", "alerts", "serve", *args],
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        line = ""
        while "caregiver page on" not in line:  # the port it got (port = 0)
            line = proc.stdout.readline()
            assert line or proc.poll() is None, "eegmon alerts serve ended before serving"
        host, port = urllib.parse.urlsplit(line.split("caregiver page on ")[1].split()[0]).netloc.split(":")

        def request(method: str, path: str, form: dict | None = None) -> tuple[int, str]:
            con = http.client.HTTPConnection(host, int(port), timeout=30)
            try:
                body = urllib.parse.urlencode(form).encode() if form else None
                con.request(method, path, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
                r = con.getresponse()
                return r.status, r.read().decode()
            finally:
                con.close()

        deadline = time.monotonic() + 60
        while "I am on it" not in (page := request("GET", f"/home?{query}"))[1]:  # once serve delivered to mum
            assert page[0] == 200 and time.monotonic() < deadline, page
            time.sleep(0.1)
        assert "<h1>Sam</h1>" in page[1]
        assert request("POST", "/home", {"t": token, "e": ev.id})[0] == 200
        assert outbox.event(ev.id)["acked_by"] == "link:mum"
        assert main(["alerts", "revoke-links", "--contact", "mum", *args]) == 0
        code, page = request("GET", f"/home?{query}")
        assert code == 403 and "was revoked" in page and "Sam" not in page
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(30)
        outbox.close()
