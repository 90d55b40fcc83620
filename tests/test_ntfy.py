"""Phone push through ntfy: urgent priority, click URL and a one-tap acknowledgement button.

A receiver on 127.0.0.1 speaks ntfy's publish API (a JSON body at the server root with the
``X-Priority``, ``X-Click``, ``X-Actions`` and ``X-Tags`` headers, read as ntfy's server reads them:
JSON fields first, then headers); the action it receives is then performed against a real
:class:`AckServer`, which acknowledges the event in a real outbox.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eegmon.streaming.ack import AckServer, TokenSigner
from eegmon.streaming.channels import Channels, DeliveryError, Message, ntfy_action, redact, urgency
from eegmon.streaming.outbox import Outbox, SeizureEvent, event_id
from eegmon.streaming.policy import AlertRules, Contact, Policy
from hypothesis import given
from hypothesis import strategies as st
from test_streaming_alerts import free_port

pytestmark = [pytest.mark.timeout(60),
              pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")]

SECRET = "0123456789abcdef-ntfy-test"
T0 = 1.7e9
# ntfy's priority names (server/util.go ParsePriority)
_PRIORITIES = {"1": 1, "min": 1, "2": 2, "low": 2, "3": 3, "default": 3, "4": 4, "high": 4,
               "5": 5, "max": 5, "urgent": 5}


class NtfyServer:
    """An ntfy publish endpoint on 127.0.0.1 that records each message as ntfy would store it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[dict] = []
        self.fail = 0  # answer this many requests with 500

    def up(self) -> NtfyServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                if server.fail > 0:
                    server.fail -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                h = self.headers
                if self.path.split("?")[0] == "/":  # publish as JSON
                    body = json.loads(raw)
                    topic, message = body["topic"], body.get("message", "")
                else:
                    body, topic, message = {}, self.path.strip("/"), raw.decode()
                actions = body.get("actions") or json.loads(h.get("X-Actions") or "[]")
                server.messages.append({
                    "topic": topic, "title": body.get("title") or h.get("X-Title", ""), "message": message,
                    "priority": body.get("priority") or _PRIORITIES[(h.get("X-Priority") or "3").lower()],
                    "click": body.get("click") or h.get("X-Click", ""), "actions": actions,
                    "tags": body.get("tags") or [t for t in (h.get("X-Tags") or "").split(",") if t],
                    "authorization": h.get("Authorization", ""), "icon": h.get("X-Icon", "")})
                answer = json.dumps({"id": f"m{len(server.messages)}", "topic": topic}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        return self

    def down(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def url(self, topic: str = "eegmon-home", auth: str = "", query: str = "") -> str:
        return f"ntfy://{auth}127.0.0.1:{self.port}/{topic}{query}"


@pytest.fixture()
def ntfy():
    server = NtfyServer().up()
    yield server
    server.down()


@pytest.fixture()
def site(tmp_path):
    """An outbox with one seizure event, a signer and a running AckServer."""
    outbox = Outbox(tmp_path / "o.sqlite", Policy((Contact("parent", ("console://",)),), AlertRules()))
    ev = SeizureEvent(event_id("s", T0), "s", T0, 0.93, T0 + 5)
    outbox.record_event(ev)
    signer = TokenSigner(SECRET)
    server = AckServer(signer, outbox).start()
    yield outbox, signer, server, ev.id
    server.stop()
    outbox.close()


def perform(action: dict) -> tuple[int, str]:
    """Do what the ntfy app does when the action button is tapped: the HTTP request it describes."""
    req = urllib.request.Request(action["url"], data=action["body"].encode(), method=action["method"],
                                 headers=action["headers"])
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_seizure_alert_is_urgent_with_a_one_tap_acknowledgement(ntfy, site):
    outbox, signer, server, eid = site
    token = signer.make(eid, "parent")
    ack_url = f"{server.url}/ack?t={token}"
    msg = Message("k" * 32, "Seizure alert", f"Possible seizure.\nAcknowledge: {ack_url}", eid, "initial", ack_url)
    Channels().send(ntfy.url(), msg)

    (got,) = ntfy.messages
    assert got["topic"] == "eegmon-home"
    assert got["priority"] == 5
    assert got["title"] == "Seizure alert"
    assert got["message"] == msg.body
    assert got["click"] == ack_url
    assert "rotating_light" in got["tags"]
    assert got["icon"] == ""  # no icon fetched from GitHub by the phone
    (action,) = got["actions"]
    assert action["action"] == "http" and action["label"] == "Acknowledge"
    assert action["method"] == "POST"
    assert action["url"] == f"{server.url}/ack"
    assert action["body"] == f"t={token}"
    assert action["headers"] == {"Content-Type": "application/x-www-form-urlencoded"}

    assert outbox.events()[0]["acked_at"] is None
    status, page = perform(action)
    assert status == 200 and "Acknowledged" in page
    (ev,) = outbox.events()
    assert ev["acked_at"] is not None and ev["acked_by"] == "link:parent"
    # the token is single-use: a second tap acknowledges nothing more, and says who did
    status, page = perform(action)
    assert status == 200 and "already acknowledged by parent" in page
    assert outbox.events()[0]["acked_at"] == ev["acked_at"]


@pytest.mark.parametrize(("kind", "query", "priority"), [
    ("forecast", "", 3),                  # a notice: ntfy's default
    ("forecast", "?priority=low", 2),     # ... or what the URL asks for
    ("supervision", "", 4),               # the monitoring itself needs attention: high
    ("supervision", "?priority=low", 4),  # not lowered by the URL
])
def test_messages_without_an_event_have_no_action(ntfy, kind, query, priority):
    msg = Message("n" * 32, "eegmon", "Something to know.", "", kind)
    Channels().send(ntfy.url(query=query), msg)
    (got,) = ntfy.messages
    assert got["priority"] == priority
    assert got["actions"] == [] and got["click"] == ""
    assert got["message"] == "Something to know."


def test_a_url_priority_does_not_lower_a_seizure_alert(ntfy, site):
    _outbox, signer, server, eid = site
    ack_url = f"{server.url}/ack?t={signer.make(eid, 'parent')}"
    Channels().send(ntfy.url(query="?priority=low"), Message("k" * 32, "Seizure alert", "b", eid, "reminder:1",
                                                             ack_url))
    assert ntfy.messages[0]["priority"] == 5
    assert len(ntfy.messages[0]["actions"]) == 1


def test_seizure_alert_without_a_link_still_urgent_without_action(ntfy):
    Channels().send(ntfy.url(), Message("k" * 32, "Seizure alert", "b", "ev1", "initial"))
    (got,) = ntfy.messages
    assert got["priority"] == 5 and got["actions"] == [] and got["click"] == ""


def test_credentials_reach_the_server_and_stay_out_of_logs(ntfy, site, caplog):
    _outbox, signer, server, eid = site
    token = signer.make(eid, "parent")
    ack_url = f"{server.url}/ack?t={token}"
    url = ntfy.url(auth="family:s3cret-pass-word@")
    with caplog.at_level(logging.DEBUG):
        Channels().send(url, Message("k" * 32, "Seizure alert", "b", eid, "initial", ack_url))
    (got,) = ntfy.messages
    assert got["authorization"] == "Basic " + base64.b64encode(b"family:s3cret-pass-word").decode()
    assert any("ntfy" in r.name or "apprise" in r.name for r in caplog.records)  # apprise did log the send
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "s3cret-pass-word" not in logged
    assert token not in logged
    assert "s3cret" not in redact(url)


def test_a_server_error_is_a_delivery_error(ntfy):
    ntfy.fail = 1
    with pytest.raises(DeliveryError, match=r"ntfy://127\.0\.0\.1:\d+/\*\*\* failed: .*error=500"):
        Channels().send(ntfy.url(), Message("k" * 32, "Seizure alert", "b", "ev1", "initial"))
    Channels().send(ntfy.url(), Message("k" * 32, "Seizure alert", "b", "ev1", "initial"))  # the retry works
    assert len(ntfy.messages) == 1


@pytest.mark.parametrize("link", ["", "http://h/other?t=abc", "http://h/ack", "ftp://h/ack?t=abc", "http:///ack?t=a"])
def test_no_action_from_a_link_that_is_not_an_ack_link(link):
    assert ntfy_action(link) is None


def test_action_keeps_the_token_exactly():
    token = "eyJlIjoiYSJ9.-_x"
    action = ntfy_action(f"https://home.example.org:8443/eegmon/ack?t={token}")
    assert action["url"] == "https://home.example.org:8443/eegmon/ack"
    assert action["body"] == f"t={token}"


@given(token=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=300),
       base=st.sampled_from(["http://127.0.0.1:8765", "https://home.example.org", "https://h.example:8443/eegmon"]))
def test_action_round_trips_any_token(token, base):
    """The POST the button makes carries exactly the link's token, whatever it holds."""
    from urllib.parse import parse_qs

    action = ntfy_action(f"{base}/ack?t={token}")
    assert action["url"] == f"{base}/ack"
    assert parse_qs(action["body"]) == {"t": [token]}


class JsonHook:
    """A JSON webhook receiver on 127.0.0.1 (apprise's json:// posts {"title", "message", "type"})."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                hook.received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize(("event", "kind", "notify_type", "look"), [
    ("ev1", "initial", "failure", "seizure"),
    ("ev1", "delivery_failed:parent", "failure", "seizure"),
    ("", "test", "failure", "seizure"),
    ("", "supervision", "warning", "alarm"),
    ("", "forecast", "info", "notice"),
])
def test_seizure_alerts_are_not_sent_as_info(event, kind, notify_type, look):
    hook = JsonHook()
    try:
        msg = Message("k" * 32, "t", "b", event, kind)
        assert urgency(msg) == look
        Channels().send(f"json://127.0.0.1:{hook.port}/hook", msg)
        assert hook.received[0]["type"] == notify_type
    finally:
        hook.close()


class GotifyServer(JsonHook):
    """Gotify's message API on 127.0.0.1: POST /message with the app token in ``X-Gotify-Key``."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[tuple[str, str, dict]] = []  # (path, app token, body)
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.received.append((self.path, self.headers.get("X-Gotify-Key"), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.mark.parametrize(("event", "kind", "query", "priority"), [
    ("ev1", "initial", "?priority=low", 10),  # emergency, whatever the URL says
    ("", "supervision", "", 8),
    ("", "forecast", "", 5),
    ("", "forecast", "?priority=low", 0),
])
def test_gotify_priority_per_message(event, kind, query, priority):
    server = GotifyServer()
    try:
        Channels().send(f"gotify://127.0.0.1:{server.port}/AppTok3nXYZ123{query}", Message("k" * 32, "t", "b", event,
                                                                                               kind))
        ((path, key, body),) = server.received
        assert path == "/message" and key == "AppTok3nXYZ123"
        assert body["priority"] == priority and body["message"] == "b"
    finally:
        server.close()
