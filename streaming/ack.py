"""Acknowledgement: signed, expiring, single-use tokens and a small HTTP endpoint (127.0.0.1 by default).

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`` where the payload is
JSON ``{"e": event id, "c": contact, "x": expiry (s since epoch), "n": random nonce}``. It is
refused when the signature does not match (forged or altered), when it has expired, or when its
nonce was used before (replayed): the nonce is recorded in the outbox's SQLite file in the same
process that acknowledges.

The endpoint answers ``GET /ack?t=TOKEN`` with a confirmation page holding a button, and
acknowledges only on ``POST /ack`` (``t=TOKEN`` in the form body): mail scanners and link
previews follow GET links, and must not acknowledge a seizure alert on the caregiver's behalf.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from eegmon.errors import EegmonError

from .outbox import Outbox

logger = logging.getLogger("eegmon.streaming")


class TokenError(Exception):
    """A token that must not acknowledge anything (the message says why)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenSigner:
    """Make and check acknowledgement tokens.

    Parameters
    ----------
    secret : str
        HMAC key (at least 16 characters).
    ttl_s : float
        Lifetime of a token in seconds.
    clock : callable
        Wall clock (tests inject a fake one).
    """

    secret: str
    ttl_s: float = 7200.0
    clock: Callable[[], float] = time.time

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise EegmonError("the acknowledgement secret must have at least 16 characters "
                              "(set [ack] secret, e.g. \"${EEGMON_ACK_SECRET}\").")

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self.secret.encode(), payload, hashlib.sha256).digest()

    def make(self, event_id: str, contact: str) -> str:
        """A fresh token for acknowledging ``event_id`` as ``contact``."""
        payload = json.dumps({"e": event_id, "c": contact, "x": round(self.clock() + self.ttl_s, 3),
                              "n": secrets.token_urlsafe(12)}, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def check(self, token: str) -> dict:
        """The token's payload if it is genuine and unexpired (the nonce is not consumed here)."""
        try:
            body, sig = token.split(".")
            payload, mac = _unb64(body), _unb64(sig)
        except (ValueError, TypeError) as err:
            raise TokenError("malformed token") from err
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenError("bad signature")
        data = json.loads(payload)
        if not isinstance(data, dict) or not {"e", "c", "x", "n"} <= set(data):
            raise TokenError("malformed token")
        if self.clock() > float(data["x"]):
            raise TokenError("token expired")
        return data

    def acknowledge(self, token: str, outbox: Outbox) -> str:
        """Check ``token``, consume its nonce and acknowledge its event; return the event id."""
        data = self.check(token)
        if not outbox.use_nonce(str(data["n"])):
            raise TokenError("token already used")
        outbox.acknowledge(str(data["e"]), by=f"link:{data['c']}")
        return str(data["e"])


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>eegmon</title></head>
<body style="font-family:sans-serif;max-width:30em;margin:2em auto">{body}</body></html>"""


def _handler(signer: TokenSigner, outbox_path: str, policy) -> type[BaseHTTPRequestHandler]:
    class AckHandler(BaseHTTPRequestHandler):
        server_version = "eegmon-ack"

        def log_message(self, fmt: str, *args) -> None:  # tokens stay out of the logs
            logger.debug("ack endpoint: %s %s", self.command, urlsplit(self.path).path)

        def _reply(self, code: int, body: str) -> None:
            data = _PAGE.format(body=body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            parts = urlsplit(self.path)
            token = parse_qs(parts.query).get("t", [""])[0]
            if parts.path != "/ack":
                self._reply(404, "<p>Not found.</p>")
                return
            try:
                data = signer.check(token)
            except TokenError as err:
                self._reply(403, f"<p>This link cannot be used: {html.escape(str(err))}.</p>")
                return
            self._reply(200, f"<p>Seizure alert {html.escape(str(data['e']))}.</p>"
                             f"<form method='post' action='/ack'><input type='hidden' name='t' "
                             f"value='{html.escape(token, quote=True)}'><button>Acknowledge</button></form>")

        def do_POST(self) -> None:  # noqa: N802
            if urlsplit(self.path).path != "/ack":
                self._reply(404, "<p>Not found.</p>")
                return
            length = min(int(self.headers.get("Content-Length") or 0), 8192)
            token = parse_qs(self.rfile.read(length).decode("utf-8", "replace")).get("t", [""])[0]
            outbox = Outbox(outbox_path, policy, clock=signer.clock)
            try:
                eid = signer.acknowledge(token, outbox)
            except TokenError as err:
                self._reply(403, f"<p>Refused: {html.escape(str(err))}.</p>")
                return
            except EegmonError as err:
                self._reply(404, f"<p>{html.escape(err.message)}</p>")
                return
            finally:
                outbox.close()
            logger.info("event %s acknowledged by link", eid)
            self._reply(200, f"<p>Acknowledged {html.escape(eid)}. Escalation stopped.</p>")

    return AckHandler


class AckServer:
    """The acknowledgement endpoint in a background thread.

    Parameters
    ----------
    signer : TokenSigner
        Checks tokens.
    outbox : Outbox
        Where acknowledgements go.
    host, port : str, int
        Address to bind (127.0.0.1 by default; port 0 picks a free one).
    """

    def __init__(self, signer: TokenSigner, outbox: Outbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler(signer, str(outbox.path), outbox.policy))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="eegmon-ack", daemon=True)

    @property
    def url(self) -> str:
        """Base URL of the endpoint."""
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> AckServer:
        """Serve in the background."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(5)
