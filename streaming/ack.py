"""Acknowledgement: signed, expiring tokens, caregiver page links and a small HTTP endpoint (127.0.0.1 by default).

A token is ``base64url(payload) "." base64url(HMAC-SHA256(secret, payload))`` where the payload is
JSON ``{"e": event id, "c": contact, "x": expiry (s since epoch), "n": random nonce, "p": purpose}``,
the purpose ``"ack"`` (acknowledge; a token without ``"p"`` is one), ``"cancel"`` (a false
alarm, :meth:`~eegmon.streaming.outbox.Outbox.cancel`) or ``"page"`` (the caregiver page, below;
no ``"e"``, and ``"n"`` is the link's id): a token of one purpose is refused by the others. It is
refused when the signature does not match (forged or altered), when it has expired, or when its
purpose is not the one asked for. An ack or cancel token's nonce is recorded as used in the
outbox's SQLite file in the transaction that acknowledges; a token used again is not an error for
the family: the page says who acknowledged (or cancelled) and when.

The endpoint answers ``GET /ack?t=TOKEN`` (``/cancel``) with a phone-sized page (the patient's
alias, local time, what to do) holding one large button, and acts only on ``POST /ack``
(``/cancel``; ``t=TOKEN`` in the form body): mail scanners and link previews follow GET links, and
must not acknowledge a seizure alert on the caregiver's behalf.

Caregiver page
--------------
``GET /home?t=TOKEN`` is the caregiver page (:mod:`eegmon.streaming.caregiver`): whether
monitoring runs, the signal, recent alerts, the daily forecast. Its token is a per-contact page
link made by :meth:`PageLinks.issue` (``eegmon alerts page-link``), valid for ``[ack]
page_link_days`` and reusable; the outbox records every link id issued (:data:`PAGE_LINKS_KEY` in
its ``meta`` table, the one store the monitor and ``eegmon alerts serve`` share), so a link works
only while its id is recorded for its contact, not revoked (:meth:`PageLinks.revoke`, ``eegmon
alerts revoke-links``) and the contact is in the policy. Without such a link the answer is 403
with the reason and nothing of the page. ``POST /home`` (``t=TOKEN&e=EVENT`` in the body)
acknowledges an open event as the link's contact, when that contact was alerted about it; GET
never changes anything. Every page is sent with a Content-Security-Policy that forbids scripts
and framing (a one-button page must not be clickjacked) and ``Referrer-Policy: no-referrer``.

Limits
------
The endpoint faces whatever reaches its port, so every request is bounded and every failure is an
HTTP answer, never an exception escaping a handler:

* the request line is at most :data:`MAX_REQUEST_LINE` bytes (else 414) and must be printable
  ASCII ``METHOD TARGET HTTP/1.x`` (else 400); the header lines together at most
  :data:`MAX_HEADER_BYTES` bytes and :data:`MAX_HEADERS` lines (else 431), each ``Name: value``
  with no control character and no folding (else 400);
* methods other than GET and POST get 405; a POST needs a ``Content-Length`` (else 411) that is a
  plain number of bytes, the same in every copy of the header (else 400), and at most
  :data:`MAX_BODY` (else 413); a body shorter than announced gets 400;
* a client has ``timeout_s`` for its whole request (a total deadline, not per read, so trickling a
  byte at a time does not keep a handler): after it, it gets 408 and is dropped;
* at most ``max_connections`` requests are handled at once; further clients wait in the listen
  queue (``backlog`` long), so a burst is served late rather than reset;
* an answer sent before the whole request was read (414, 413, ...) is followed by a graceful close:
  our side is shut down and what the client still sends is read and dropped for up to ``timeout_s``,
  so that the client reads the answer instead of a connection reset;
* an unexpected error gives a 500 page and is logged with its type and traceback but not its
  message, which could hold the token; a locked outbox (after SQLite's 30-s busy wait) gives 503.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import io
import json
import logging
import math
import re
import secrets
import socket
import sqlite3
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import Parser
from http import HTTPStatus
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from eegmon.errors import EegmonError

from . import caregiver
from .outbox import _DEFAULT_INSTRUCTIONS, Outbox, ReplayError, acknowledger, local_time

logger = logging.getLogger("eegmon.streaming")

#: Longest request line accepted, in bytes (a link holds a token of about 150 characters).
MAX_REQUEST_LINE = 8192
#: Largest header block accepted, in bytes, and most header lines.
MAX_HEADER_BYTES = 16384
MAX_HEADERS = 64
#: Largest POST body accepted, in bytes (the form holds one token).
MAX_BODY = 4096
# what a graceful close reads and drops at most (it also stops after timeout_s)
_LINGER_BYTES = 8 << 20
# RFC 9112 request line: token SP visible-ASCII target SP version
_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(_TOKEN + rb" [\x21-\x7e]+ HTTP/1\.[01]\r?\n")
# name ":" value without control characters; no folded (indented) lines, no space before the colon
_HEADER_LINE = re.compile(_TOKEN + rb":[^\x00-\x08\x0a-\x1f\x7f]*\r?\n")


class TokenError(Exception):
    """A token that must not acknowledge anything (the message says why, in plain words)."""


class UsedTokenError(TokenError):
    """A genuine token with nothing left to do: used before (a second tap), or its event already settled."""

    def __init__(self, event_id: str) -> None:
        super().__init__("this link was used before")
        self.event_id = event_id


#: The purposes a token can have (``"p"`` in its payload): acknowledge or cancel one event, open the caregiver page.
PURPOSES = ("ack", "cancel", "page")
_WHAT = {"ack": "an acknowledgement", "cancel": "a cancel", "page": "a caregiver page"}
_DAMAGED = "this link is incomplete or damaged (open the whole link from the message)"
#: The outbox ``meta`` key recording the caregiver page links issued (see the module docstring).
PAGE_LINKS_KEY = "caregiver.page_links"
#: Where the caregiver page is served.
HOME = "/home"


def _is_time(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


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

    @classmethod
    def from_policy(cls, policy) -> TokenSigner:
        """The signer of a :class:`~eegmon.streaming.policy.Policy` (``[ack] secret``, ``${NAME}`` expanded)."""
        from .policy import expand_env

        if not policy.ack.secret:
            raise EegmonError("links need [ack] secret in the alert policy (e.g. secret = \"${EEGMON_ACK_SECRET}\").",
                              policy.path)
        return cls(expand_env(policy.ack.secret, where="ack.secret", path=policy.path), policy.ack.token_ttl_min * 60)

    def _sign(self, data: dict) -> str:
        payload = json.dumps(data, separators=(",", ":")).encode()
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def make(self, event_id: str, contact: str, purpose: str = "ack") -> str:
        """A fresh token for ``purpose`` (``"ack"`` or ``"cancel"``) on ``event_id`` as ``contact``."""
        if purpose not in ("ack", "cancel"):
            raise EegmonError(f"an event token's purpose must be 'ack' or 'cancel', got {purpose!r} (page links: "
                              "make_page).")
        return self._sign({"e": event_id, "c": contact, "x": round(self.clock() + self.ttl_s, 3),
                           "n": secrets.token_urlsafe(12), "p": purpose})

    def make_page(self, contact: str, link: str, ttl_s: float) -> str:
        """A caregiver page token of ``contact`` with link id ``link``, valid ``ttl_s`` s (see :class:`PageLinks`)."""
        return self._sign({"c": contact, "x": round(self.clock() + ttl_s, 3), "n": link, "p": "page"})

    def check(self, token: str, purpose: str = "ack") -> dict:
        """The token's payload if it is genuine, unexpired and made for ``purpose`` (the nonce is not consumed).

        Raises :class:`TokenError`, whose message says why in plain words, for anything else.
        """
        if purpose not in PURPOSES:
            raise EegmonError(f"a token's purpose must be one of {PURPOSES}, got {purpose!r}.")
        try:
            body, sig = token.split(".")
            payload, mac = _unb64(body), _unb64(sig)
        except (ValueError, TypeError) as err:
            raise TokenError(_DAMAGED) from err
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise TokenError("this link was not made by this eegmon: it is forged or was changed")
        try:
            data = json.loads(payload)
        except ValueError:  # not UTF-8 or not JSON: not a payload we signed
            data = None
        if not isinstance(data, dict) or not {"c", "x", "n"} <= set(data) or not _is_time(data["x"]) \
                or not isinstance(data["c"], str) or not isinstance(data["n"], str):
            raise TokenError(_DAMAGED)
        if data.get("p", "ack") != purpose:
            raise TokenError(f"this link is not {_WHAT[purpose]} link")
        if purpose != "page" and not isinstance(data.get("e"), str):
            raise TokenError(_DAMAGED)
        if self.clock() > data["x"]:
            if purpose == "page":
                raise TokenError("this page link has expired: ask for a new one (eegmon alerts page-link)")
            raise TokenError(f"this link has expired (links work for {self.ttl_s / 60:g} min)")
        return data

    def acknowledge(self, token: str, outbox: Outbox) -> str:
        """Check ``token``, consume its nonce and acknowledge its event (one transaction); return the event id.

        Raises :class:`UsedTokenError` when the token was used before or the event was already acknowledged.
        """
        return self._use(token, "ack", outbox.acknowledge)

    def cancel(self, token: str, outbox: Outbox) -> str:
        """Like :meth:`acknowledge` for a cancel token: the event is a false alarm (:meth:`Outbox.cancel`)."""
        return self._use(token, "cancel", outbox.cancel)

    def _use(self, token: str, purpose: str, act: Callable[..., bool]) -> str:
        data = self.check(token, purpose)
        eid = str(data["e"])
        try:
            done = act(eid, by=f"link:{data['c']}", nonce=str(data["n"]))
        except ReplayError:
            raise UsedTokenError(eid) from None
        if not done:  # someone else was first: the page says who
            raise UsedTokenError(eid)
        return eid


def page_links(outbox: Outbox, *, now: float | None = None) -> list[dict]:
    """The caregiver page links recorded in ``outbox`` and unexpired at ``now`` (default: the outbox's clock).

    Each is its record with ``"id"`` (see :class:`PageLinks`), by contact and time of issue; no
    secret is needed to list them, and the tokens are not kept.
    """
    now = outbox.clock() if now is None else now
    links = outbox.get_meta(PAGE_LINKS_KEY) or {}
    return sorted(({"id": k, **v} for k, v in links.items() if v["expires"] > now),
                  key=lambda r: (r["contact"], r["issued"]))


class PageLinks:
    """The caregiver page links of one outbox: made per contact, checked, revoked (see the module docstring).

    Parameters
    ----------
    signer : TokenSigner
        Signs and checks the links' tokens (its clock is the time of issue and of checks).
    outbox : Outbox
        Holds the record of the links issued (``meta``, :data:`PAGE_LINKS_KEY`) and the policy
        whose contacts may have one.

    Notes
    -----
    The record maps each link id to ``{"contact", "issued", "expires", "revoked"}`` (times in s
    since the epoch; ``revoked`` None while the link works). Links past their expiry are dropped
    from it whenever a link is issued or revoked, so it stays small.
    """

    def __init__(self, signer: TokenSigner, outbox: Outbox) -> None:
        self.signer, self.outbox = signer, outbox

    def _change(self, change: Callable[[dict, float], dict]) -> dict:
        now = self.signer.clock()
        return self.outbox.update_meta(
            PAGE_LINKS_KEY, lambda links: change({k: v for k, v in links.items() if v["expires"] > now}, now), {})

    def issue(self, contact: str, days: float) -> tuple[str, dict]:
        """A new page link of ``contact`` valid for ``days``: its token and its record (with ``"id"``).

        Raises :class:`~eegmon.errors.EegmonError` when ``contact`` is not in the policy.
        """
        self.outbox.policy.contact(contact)
        if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days < math.inf:
            raise EegmonError(f"a page link's life must be a number of days in (0, inf), got {days!r}.")
        link = secrets.token_hex(6)

        def add(links: dict, now: float) -> dict:
            links[link] = {"contact": contact, "issued": now, "expires": now + days * 86400.0, "revoked": None}
            return links

        record = self._change(add)[link]
        return self.signer.make_page(contact, link, days * 86400.0), {"id": link, **record}

    def revoke(self, contact: str, link: str | None = None) -> int:
        """Revoke ``contact``'s page link ``link`` (None: all of them); return how many were working.

        Raises :class:`~eegmon.errors.EegmonError` when ``contact`` is not in the policy, or
        ``link`` is not one of its unexpired links.
        """
        self.outbox.policy.contact(contact)
        revoked: list[str] = []

        def cut(links: dict, now: float) -> dict:
            if link is not None and links.get(link, {}).get("contact") != contact:
                raise EegmonError(f"{contact!r} has no unexpired page link {link!r} (see 'eegmon alerts list').",
                                  self.outbox.path)
            for key, rec in links.items():
                if rec["contact"] == contact and link in (None, key) and rec["revoked"] is None:
                    rec["revoked"] = now
                    revoked.append(key)
            return links

        self._change(cut)
        return len(revoked)

    def links(self) -> list[dict]:
        """The unexpired links recorded (see :func:`page_links`)."""
        return page_links(self.outbox, now=self.signer.clock())

    def check(self, token: str) -> str:
        """The contact of a page link that works now; :class:`TokenError` saying why not."""
        data = self.signer.check(token, "page")
        record = (self.outbox.get_meta(PAGE_LINKS_KEY) or {}).get(data["n"])
        if record is None or record.get("contact") != data["c"]:
            raise TokenError("this page link is not known here (it was revoked, or made for another eegmon): "
                             "ask for a new one")
        if record.get("revoked") is not None:
            raise TokenError("this page link was revoked: ask for a new one")
        try:
            self.outbox.policy.contact(data["c"])
        except EegmonError:
            raise TokenError("this page link's contact is no longer in the alert policy") from None
        return data["c"]


# phone first: most links are opened from a notification, at night
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>eegmon</title>{head}
<style>body{{font-family:sans-serif;font-size:1.25rem;line-height:1.4;max-width:32em;margin:0 auto;padding:1em;
overflow-wrap:anywhere}} button{{width:100%;font-size:1.5rem;padding:1em;margin:1em 0;border-radius:.5em;border:0;
color:#fff;background:#b00020}} button.calm{{background:#1b5e20}} h1{{font-size:1.6rem;margin:.2em 0}}
h2{{font-size:1.3rem;margin:1.2em 0 .3em}} p{{margin:.4em 0}} ul{{margin:.3em 0;padding-left:1.2em}}
.card{{border:1px solid #bbb;border-left:.5em solid #1b5e20;border-radius:.4em;padding:.5em .8em;margin:.6em 0}}
.card.bad{{border-left-color:#b00020}} .card.info{{border-left-color:#666}} .small{{font-size:1rem;color:#444}}
pre{{white-space:pre-wrap;font:inherit;margin:0}}</style></head>
<body>{body}</body></html>"""
#: Scripts, frames and outside resources forbidden; forms post only here.
_SECURITY_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                                                "frame-ancestors 'none'; base-uri 'none'",
                     "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}

#: What each action's page says: the heading, the button, what a first POST answers.
_ACTIONS = {
    "ack": ("/ack", "I am on it", "calm", "Acknowledged: thank you. The others who were alerted are told you are "
                                          "on it; escalation and reminders are stopped."),
    "cancel": ("/cancel", "Cancel: false alarm", "", "Cancelled as a false alarm. Nobody else is alerted, and "
                                                    "anyone already told gets a \u201cfalse alarm, sorry\u201d "
                                                    "message."),
}


def _log_unexpected(err: BaseException, where: str) -> None:
    # type and frames only: an exception's message may quote the request, hence the token
    logger.error("ack endpoint: unexpected %s in %s\n%s", type(err).__name__, where,
                 "".join(traceback.format_tb(err.__traceback__)).rstrip())


class _DeadlineReader(io.RawIOBase):
    """A socket's input that raises TimeoutError once ``deadline`` (time.monotonic) has passed."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self.sock, self.deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class AckHandler(BaseHTTPRequestHandler):
    """One request to the endpoint (``GET``/``POST`` of ``/ack``, ``/cancel`` and the caregiver page ``/home``).

    Its server (the one :class:`AckServer` runs) provides ``signer``, ``outbox``, ``links`` and ``timeout_s``.
    One request per connection: answers are HTTP/1.0 with ``Connection: close``.
    """

    server_version = "eegmon-ack"

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # replaced by a reader with one deadline for the whole request
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, time.monotonic() + self.server.timeout_s))
        # what send_response needs before a request line has been understood
        self.command, self.path, self.requestline, self.request_version = "", "", "", "HTTP/1.0"
        self._responded = False
        self._linger = False

    def handle(self) -> None:
        self.close_connection = True
        try:
            self._handle()
        except TimeoutError:  # all it sent was read: no need to drain
            self._answer_if_silent(HTTPStatus.REQUEST_TIMEOUT, "the request did not arrive in time", linger=False)
        except sqlite3.OperationalError as err:  # e.g. still locked after SQLite's busy wait
            logger.warning("ack endpoint: the outbox cannot be written (%s)",
                           getattr(err, "sqlite_errorname", type(err).__name__))
            self._answer_if_silent(HTTPStatus.SERVICE_UNAVAILABLE,
                                   "the alert outbox cannot be written just now; try again in a minute",
                                   {"Retry-After": "60"})
        except OSError:
            pass  # the client went away: nobody to answer
        except Exception as err:  # noqa: BLE001 - nothing escapes a handler
            _log_unexpected(err, f"{self.command or 'a request'} {self._route()}")
            self._answer_if_silent(HTTPStatus.INTERNAL_SERVER_ERROR,
                                   "internal error (logged); try again, or run eegmon alerts ack")

    def finish(self) -> None:
        if self._linger:
            self._drain()
        super().finish()

    def _answer_if_silent(self, code: HTTPStatus, why: str, headers: dict[str, str] | None = None, *,
                          linger: bool = True) -> None:
        if self._responded:
            return
        try:
            self._refuse(code, why, headers, linger=linger)
        except OSError:
            pass

    def _drain(self) -> None:
        """Close gracefully: shut our side, then read and drop what the client still sends."""
        try:
            self.connection.shutdown(socket.SHUT_WR)
            end, got = time.monotonic() + self.server.timeout_s, 0
            while got < _LINGER_BYTES and (left := end - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(65536)
                if not chunk:
                    return
                got += len(chunk)
        except OSError:
            pass

    # ------------------------------------------------------------------ reading the request
    def _handle(self) -> None:
        line = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if not line:
            return  # connected and closed without a word
        if len(line) > MAX_REQUEST_LINE:
            self._refuse(HTTPStatus.REQUEST_URI_TOO_LONG, f"the request line is longer than {MAX_REQUEST_LINE} bytes")
            return
        if not _REQUEST_LINE.fullmatch(line):
            self._refuse(HTTPStatus.BAD_REQUEST, "expected a request line 'METHOD /path HTTP/1.1' in printable ASCII")
            return
        self.raw_requestline = line
        self.requestline = line.decode("ascii").rstrip("\r\n")
        self.command, self.path, self.request_version = self.requestline.split(" ")
        block = self._read_header_block()
        if block is None:
            return
        self.headers = Parser(_class=HTTPMessage).parsestr(block.decode("iso-8859-1"))
        method = {"GET": self.do_GET, "POST": self.do_POST}.get(self.command)
        if method is None:
            self._refuse(HTTPStatus.METHOD_NOT_ALLOWED, f"{self.command} is not served here; use GET or POST",
                         {"Allow": "GET, POST"})
            return
        method()

    def _read_header_block(self) -> bytes | None:
        """The header lines up to the empty one; None when refused (too large, or the client stopped)."""
        lines: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(MAX_HEADER_BYTES - size + 1)
            size += len(line)
            if size > MAX_HEADER_BYTES or len(lines) >= MAX_HEADERS:
                self._refuse(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                             f"the headers exceed {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} lines")
                return None
            if not line.endswith(b"\n"):
                self._refuse(HTTPStatus.BAD_REQUEST, "the request ended inside its headers")
                return None
            if line in (b"\r\n", b"\n"):
                return b"".join(lines)
            if not _HEADER_LINE.fullmatch(line):
                self._refuse(HTTPStatus.BAD_REQUEST, f"header line {len(lines) + 1} is not 'Name: value'")
                return None
            lines.append(line)

    def _read_body(self) -> bytes | None:
        """The POST body within the limits; None when refused."""
        if self.headers.get("Transfer-Encoding") is not None:
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "send the form with a Content-Length, not a transfer encoding")
            return None
        values = {v.strip() for v in self.headers.get_all("Content-Length", [])}
        if not values:
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "a POST needs a Content-Length")
            return None
        value = values.pop()
        if values or not (value.isascii() and value.isdigit()):
            self._refuse(HTTPStatus.BAD_REQUEST, f"Content-Length must be one number of bytes, got {value[:40]!r}"
                         + (" and others" if values else ""))
            return None
        digits = value.lstrip("0") or "0"
        # int() refuses strings of more than 4300 digits; anything past 18 is too large anyway
        length = int(digits) if len(digits) <= 18 else math.inf
        if length > MAX_BODY:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"Content-Length {value[:40]} is over the limit of "
                         f"{MAX_BODY} bytes")
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self._refuse(HTTPStatus.BAD_REQUEST, f"the body ended after {len(body)} of {length} bytes")
            return None
        return body

    # ------------------------------------------------------------------ answering
    def _target(self) -> tuple[str, str]:
        """Path and query of the request target ("" and "" when it is not a URL, e.g. ``http://[::1``)."""
        try:
            parts = urlsplit(self.path)
        except ValueError:
            return "", ""
        return parts.path, parts.query

    def _route(self) -> str:
        # the path only, cut short: the token is in the query and a path can be anything
        return self._target()[0][:80] or "?"

    def log_message(self, fmt: str, *args) -> None:  # tokens stay out of the logs
        logger.debug("ack endpoint: %s %s", self.command, self._route())

    def log_request(self, code="-", size="-") -> None:
        logger.debug("ack endpoint: %s %s -> %s", self.command, self._route(), int(code) if code != "-" else code)

    def send_response(self, code: int, message: str | None = None) -> None:
        self._responded = True
        self.connection.settimeout(self.server.timeout_s)  # writing gets its own time, not what reading left
        super().send_response(code, message)

    def _reply(self, code: int, body: str, headers: dict[str, str] | None = None, *, head: str = "") -> None:
        data = _PAGE.format(body=body, head=head).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        for name, value in (_SECURITY_HEADERS | (headers or {})).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, code: HTTPStatus, why: str, headers: dict[str, str] | None = None, *,
                linger: bool = True) -> None:
        """An error page for a request refused before (or without) reading all of it; close gracefully."""
        self._linger = linger
        self._reply(code, f"<p>{int(code)} {html.escape(code.phrase)}: {html.escape(why)}.</p>", headers)

    def _action(self, path: str) -> str | None:
        return next((name for name, (route, *_) in _ACTIONS.items() if route == path), None)

    def _when(self, t: float) -> str:
        return local_time(t, self.server.outbox.policy.patient.time_zone, now=self.server.signer.clock())

    def _settled(self, ev: dict) -> str | None:
        """What already happened to the event, as a sentence for the page; None while it is open."""
        if ev["cancelled_at"] is not None:
            return (f"This alert was already cancelled as a false alarm by {acknowledger(ev['cancelled_by'])} "
                    f"at {self._when(ev['cancelled_at'])}.")
        if ev["acked_at"] is not None:
            return (f"This alert was already acknowledged by {acknowledger(ev['acked_by'])} "
                    f"at {self._when(ev['acked_at'])}.")
        return None

    def _info(self, eid: str) -> None:
        """The page for a link used again: who acknowledged or cancelled, and when (200: not a failure)."""
        ev = self.server.outbox.event(eid)
        said = self._settled(ev) if ev is not None else None
        self._reply(200, f"<h1>Already done</h1><p>{html.escape(said or 'This link was used before.')}</p>")

    def _forbid(self, err: TokenError) -> None:
        alias = self.server.outbox.policy.patient.alias
        self._reply(403, f"<h1>This link cannot be used</h1><p>Refused: {html.escape(str(err))}.</p>"
                         f"<p>The alert itself is not changed: check on {html.escape(alias)}, and use the newest "
                         "message's link or run <code>eegmon alerts ack</code>.</p>")

    def _home(self, token: str, event: str | None = None) -> None:
        """The caregiver page for a working page link (after acknowledging ``event`` when given), else 403."""
        try:
            contact = self.server.links.check(token)
        except TokenError as err:
            self._reply(403, f"<h1>This link cannot be used</h1><p>Refused: {html.escape(str(err))}.</p>"
                             "<p>Ask whoever runs eegmon at home for a new caregiver page link (<code>eegmon "
                             "alerts page-link</code>).</p>")
            return
        now = self.server.signer.clock()
        code, said = 200, None
        if event is not None:
            code, said = caregiver.acknowledge(self.server.outbox, contact, event, now=now)
            if code == 200:
                logger.info("event %s acknowledged from the caregiver page", event)
        body, head = caregiver.page(self.server.outbox, contact, token, now=now, said=said)
        self._reply(code, body, head=head)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.headers.get("Content-Length") or self.headers.get("Transfer-Encoding"):
            self._linger = True  # a body we will not read
        path, query = self._target()
        token = parse_qs(query).get("t", [""])[0]
        if path == HOME:
            self._home(token)
            return
        action = self._action(path)
        if action is None:
            self._reply(404, "<p>Not found.</p>")
            return
        try:
            data = self.server.signer.check(token, action)
        except TokenError as err:
            self._forbid(err)
            return
        ev = self.server.outbox.event(str(data["e"]))
        if ev is None:
            self._reply(404, "<p>This alert is not in the outbox any more.</p>")
            return
        said = self._settled(ev)
        # a false alarm can still be cancelled after an acknowledgement (the page says who acknowledged)
        if said is not None and (action == "ack" or ev["cancelled_at"] is not None):
            self._reply(200, f"<h1>Already done</h1><p>{html.escape(said)}</p>")
            return
        patient = self.server.outbox.policy.patient
        route, button, style, _ = _ACTIONS[action]
        what = patient.instructions.strip() or _DEFAULT_INSTRUCTIONS.format(alias=patient.alias)
        self._reply(200, f"<h1>Seizure alert: {html.escape(patient.alias)}</h1>"
                         f"<p>Possible seizure of {html.escape(patient.alias)} detected at "
                         f"{html.escape(self._when(ev['detected_at']))} (it started "
                         f"{html.escape(self._when(ev['onset']))}).</p>"
                         + (f"<p>{html.escape(said)}</p>" if said else "")
                         + f"<p><b>What to do:</b> {html.escape(what)}</p>"
                         f"<form method='post' action='{route}'><input type='hidden' name='t' "
                         f"value='{html.escape(token, quote=True)}'><button class='{style}'>{button}</button></form>")

    def do_POST(self) -> None:  # noqa: N802
        path = self._target()[0]
        action = self._action(path)
        if action is None and path != HOME:
            self._linger = True  # the body is not read
            self._reply(404, "<p>Not found.</p>")
            return
        body = self._read_body()
        if body is None:
            return
        form = parse_qs(body.decode("utf-8", "replace"))
        token = form.get("t", [""])[0]
        if action is None:
            self._home(token, form.get("e", [""])[0])
            return
        use = self.server.signer.acknowledge if action == "ack" else self.server.signer.cancel
        try:
            eid = use(token, self.server.outbox)
        except UsedTokenError as err:
            self._info(err.event_id)
            return
        except TokenError as err:
            self._forbid(err)
            return
        except EegmonError as err:
            self._reply(404, f"<p>{html.escape(err.message)}</p>")
            return
        logger.info("event %s %s by link", eid, "acknowledged" if action == "ack" else "cancelled")
        self._reply(200, f"<h1>Done</h1><p>{html.escape(_ACTIONS[action][3])}</p>")


class _AckHTTPServer(ThreadingHTTPServer):
    """A thread per connection, at most ``max_connections`` at once; the rest wait in the listen queue."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], signer: TokenSigner, outbox: Outbox, *, timeout_s: float,
                 max_connections: int, backlog: int) -> None:
        self.request_queue_size = backlog  # read by listen() in the base __init__
        self.signer, self.outbox, self.timeout_s = signer, outbox, timeout_s
        self.links = PageLinks(signer, outbox)
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, AckHandler)

    def process_request(self, request, client_address) -> None:
        # all slots busy: stop accepting, so new clients queue in the kernel instead of being refused
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request, client_address) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.outbox.close()  # this thread's SQLite connection
            self._slots.release()

    def handle_error(self, request, client_address) -> None:  # the base prints the exception to stderr
        _log_unexpected(sys.exc_info()[1], "a connection")


class AckServer:
    """The acknowledgement endpoint and the caregiver page in a background thread.

    Parameters
    ----------
    signer : TokenSigner
        Checks tokens.
    outbox : Outbox
        Where acknowledgements go (the server opens the same file with the signer's clock).
    host, port : str, int
        Address to bind (127.0.0.1 by default; port 0 picks a free one).
    timeout_s : float
        Time a client has to send its whole request; then it gets 408 and is dropped.
    max_connections : int
        Requests handled at once; more clients wait in the listen queue.
    backlog : int
        Length of the listen queue (the system may cap it, e.g. at ``net.core.somaxconn``).

    Notes
    -----
    See the module's "Limits" section for the answers to oversized, malformed or slow requests.
    """

    def __init__(self, signer: TokenSigner, outbox: Outbox, host: str = "127.0.0.1", port: int = 0, *,
                 timeout_s: float = 5.0, max_connections: int = 32, backlog: int = 256) -> None:
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not 0 < timeout_s < math.inf:
            raise EegmonError(f"The 'timeout_s' parameter of AckServer must be a number of seconds in (0, inf). "
                              f"Got {timeout_s!r} instead.")
        for name, value in (("max_connections", max_connections), ("backlog", backlog)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EegmonError(f"The {name!r} parameter of AckServer must be an int >= 1. Got {value!r} instead.")
        own = Outbox(outbox.path, outbox.policy, clock=signer.clock)
        own.close()  # the schema exists now; handler threads open their own connections
        self.httpd = _AckHTTPServer((host, port), signer, own, timeout_s=float(timeout_s),
                                    max_connections=max_connections, backlog=backlog)
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
