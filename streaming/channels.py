"""Delivery channels: apprise URLs (email, JSON webhook, ntfy, Telegram, ...) and the console.

Every message carries its idempotency key: as the ``X-Idempotency-Key`` header on JSON webhooks
and emails (apprise ``+Header=value`` URL arguments), and in the text.

How urgent a message looks follows what it is (:func:`urgency`): a seizure alert (it has an event)
and a test alert go out as apprise's ``failure`` type (red, where a service shows a colour), a
supervision alarm (the monitoring itself needs attention) as ``warning``, a notice such as the daily
forecast, "acknowledged by ..." or "false alarm, sorry" as ``info``.

ntfy (``ntfy://`` / ``ntfys://``, written as apprise takes them: ``ntfys://user:password@host/topic``,
``ntfys://tk_TOKEN@host/topic``, ``ntfys://topic`` for ntfy.sh) is sent through apprise's own ntfy
plugin with per-message settings: seizure and test alerts at priority ``max`` (5, "urgent"; a
``?priority=`` in the URL cannot lower it), supervision alarms at ``high`` and notices at the URL's
``?priority=`` or ``default``; a seizure alert with an acknowledgement link has it as the click URL
and as an ``http`` action button, "Acknowledge", that POSTs ``t=TOKEN`` to ``{base}/ack``: one tap
acknowledges without opening a browser. Apprise sends these as ntfy's ``X-Priority``,
``X-Click`` and ``X-Actions`` (JSON) headers next to the JSON body ``{"topic", "title", "message"}``.
Gotify (``gotify://`` / ``gotifys://host/APP_TOKEN``) gets the same per-message priorities on its
scale: ``emergency`` (10), ``high`` (8), and the URL's or ``normal`` (5) for notices.

Secrets in channel URLs (``${ENV}`` values, passwords, long path segments such as webhook keys)
are redacted from the records of the ``apprise`` and ``urllib3.connectionpool`` loggers, whose
debug output would otherwise show the full URL. A receiver that keeps the
keys it has seen turns the outbox's at-least-once retries into exactly-once delivery.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from .policy import expand_env

logger = logging.getLogger("eegmon.streaming")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Message:
    """One alert message to one contact over one channel."""

    key: str
    title: str
    body: str
    event_id: str
    kind: str
    #: The acknowledgement link of a seizure alert ("" when there is none), for channels that can
    #: offer it as a button (ntfy's actions).
    ack_url: str = ""


class DeliveryError(Exception):
    """A channel could not deliver (will be retried)."""


def redact(url: str) -> str:
    """``url`` with credentials, path and query replaced by ``***`` (safe for logs)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable url>"
    user = f"{parts.username}:***@" if parts.password else (f"{parts.username}@" if parts.username else "")
    tail = "/***" if parts.path.strip("/") else ""
    query = "?***" if parts.query else ""
    return f"{parts.scheme}://{user}{host}{port}{tail}{query}"


class _Redactor(logging.Filter):
    """Replace known secrets in log records of third-party loggers (apprise, urllib3) with ``***``."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add_url(self, url: str, expanded: str) -> None:
        """Remember the secret parts of ``expanded`` (env values, password, long path segments)."""
        for m in _ENV_REF.finditer(url):
            value = os.environ.get(m.group(1))
            if value and len(value) >= 4:
                self.secrets.add(value)
        try:
            parts = urlsplit(expanded)
            if parts.password:
                self.secrets.add(parts.password)
            self.secrets.update(seg for seg in parts.path.split("/") if len(seg) >= 8)
            # query values such as ntfy's ?token=tk_... or a recipient's address
            self.secrets.update(v for _, v in parse_qsl(parts.query) if len(v) >= 8)
        except ValueError:
            pass

    def clean(self, text: str) -> str:
        """``text`` with every known secret replaced by ``***``."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            record.msg = self.clean(record.getMessage())
            record.args = None
        return True


_REDACTOR = _Redactor()
for _name in ("apprise", "urllib3.connectionpool"):
    logging.getLogger(_name).addFilter(_REDACTOR)


def _with_header(url: str, key: str) -> str:
    scheme = url.split("://", 1)[0].lower()
    if scheme not in ("json", "jsons", "mailto", "mailtos", "form", "forms", "xml", "xmls"):
        return url
    return f"{url}{'&' if '?' in url else '?'}+X-Idempotency-Key={key}"


def console_sender(out: Callable[[str], None] | None = None) -> Callable[[str, Message], None]:
    """A sender for ``console://`` that writes one line per alert to ``out`` (default stdout)."""
    def send(url: str, msg: Message) -> None:
        body = [ln for ln in msg.body.splitlines() if not ln.startswith("Idempotency key:")]
        # a notice (a daily forecast) has no event: it is not labelled as an alert
        label = "ALERT" if msg.event_id else msg.kind.upper()
        line = "\n".join([f"[{label}] {msg.title} (key {msg.key[:12]})"] + [f"        {ln}" for ln in body])
        if out is None:
            print(line, file=sys.stdout, flush=True)
        else:
            out(line)
    return send


#: How each kind of message is presented (see :func:`urgency`): its apprise notify type ...
_LOOK = {"seizure": "failure", "alarm": "warning", "notice": "info"}
#: ... and its priority on the push services that have one per message (apprise's names).
_PRIORITY = {"ntfy": {"seizure": "max", "alarm": "high", "notice": "default"},
             "gotify": {"seizure": "emergency", "alarm": "high", "notice": "normal"}}
#: Kinds that are not seizure events but look like one: the test alert (so that the family sees what
#: a real alert does on their phone) and a direct message sent when the outbox cannot be written.
_URGENT_KINDS = {"test", "direct"}
#: Messages that need no attention: shown as information (the forecast; someone acknowledged an
#: alert; an alert was cancelled as a false alarm).
_NOTICE_KINDS = {"forecast", "acknowledged", "false_alarm"}


def urgency(msg: Message) -> str:
    """``"seizure"`` (a seizure alert, a test alert), ``"alarm"`` (supervision) or ``"notice"`` (a forecast)."""
    kind = msg.kind.partition(":")[0]
    if msg.event_id or kind in _URGENT_KINDS:
        return "seizure"
    return "notice" if kind in _NOTICE_KINDS else "alarm"


def ntfy_action(ack_url: str) -> dict | None:
    """The ntfy ``http`` action that acknowledges with one tap, from a link ``{base}/ack?t=TOKEN``.

    ``None`` when ``ack_url`` is not such a link (the action would not acknowledge anything).
    """
    try:
        parts = urlsplit(ack_url)
    except ValueError:
        return None
    token = dict(parse_qsl(parts.query)).get("t", "")
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.path.endswith("/ack") or not token:
        return None
    return {"action": "http", "label": "Acknowledge", "url": f"{parts.scheme}://{parts.netloc}{parts.path}",
            "method": "POST", "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": urlencode({"t": token})}


def _priority(results: dict, msg: Message, service: str) -> None:
    """Set the priority of apprise's parsed URL ``results``: the URL's ``?priority=`` applies to notices only."""
    look = urgency(msg)
    user_priority = results.get("qsd", {}).get("priority")
    results["priority"] = user_priority if look == "notice" and user_priority else _PRIORITY[service][look]


def _ntfy_settings(results: dict, msg: Message) -> None:
    """Set the per-message ntfy arguments of apprise's parsed URL ``results`` (priority, click, action, tags)."""
    _priority(results, msg, "ntfy")
    look = urgency(msg)
    tags = {"seizure": ["rotating_light"], "alarm": ["warning"], "notice": []}[look]
    results["xtags"] = tags + list(results.get("xtags") or [])
    # apprise's default icon is fetched by the phone from GitHub: not for a home alert, unless asked for
    if "image" not in results.get("qsd", {}):
        results["include_image"] = False
    action = ntfy_action(msg.ack_url) if msg.event_id else None
    if action is not None:
        results["click"] = msg.ack_url
        results["actions"] = json.dumps([action], separators=(",", ":"))


def apprise_send(url: str, msg: Message, *, timeout_s: float = 10.0) -> None:
    """Send ``msg`` through the apprise URL ``url`` (``${ENV}`` expanded now); raise DeliveryError on failure."""
    import apprise
    from apprise import plugins

    expanded = expand_env(url, where=f"channel {redact(url)}")
    _REDACTOR.add_url(url, expanded)
    full = _with_header(expanded, msg.key)
    scheme = full.split("://", 1)[0].lower()
    if scheme in ("json", "jsons", "form", "forms", "xml", "xmls"):
        full += f"&cto={timeout_s:g}&rto={timeout_s:g}"
    token = dict(parse_qsl(urlsplit(msg.ack_url).query)).get("t", "") if msg.ack_url else ""
    if token:
        _REDACTOR.secrets.add(token)  # apprise's debug log shows the ntfy URL and headers, hence the token
    try:
        results = plugins.url_to_dict(full)
        if results is None:
            raise DeliveryError(f"apprise does not accept the URL {redact(url)}")
        if scheme in ("ntfy", "ntfys"):
            # the parsed URL, not a rebuilt string: the token in the action must not go through URL quoting
            _ntfy_settings(results, msg)
            results.setdefault("cto", timeout_s)
            results.setdefault("rto", timeout_s)
        elif scheme in ("gotify", "gotifys"):
            _priority(results, msg, "gotify")
        plugin = apprise.Apprise.instantiate(results)
        app = apprise.Apprise()
        if plugin is None or not app.add(plugin):
            raise DeliveryError(f"apprise does not accept the URL {redact(url)}")
        # text, not apprise's default HTML for email: an HTML body loses every line break
        ok = app.notify(body=msg.body, title=msg.title, body_format=apprise.NotifyFormat.TEXT,
                        notify_type=apprise.NotifyType(_LOOK[urgency(msg)]))
        if not ok:
            raise DeliveryError(f"delivery through {redact(url)} failed{_reason(ok)}")
    finally:
        _REDACTOR.secrets.discard(token)


def _reason(result) -> str:
    """``": <apprise's last warning>"`` from a failed notify() result (why: refused, 401, ...), redacted."""
    warnings = [e.message for r in getattr(result, "results", ()) for e in r.logs()
                if e.level in ("WARNING", "ERROR", "CRITICAL")]
    return f": {_REDACTOR.clean(warnings[-1])}" if warnings else ""


class Channels:
    """Route a channel URL to its sender.

    Parameters
    ----------
    console : callable | None
        Where ``console://`` lines go (default: standard output).
    timeout_s : float
        Network timeout for apprise channels.
    senders : dict | None
        Extra ``scheme -> send(url, message)`` functions (tests inject faults here).
    """

    def __init__(self, *, console: Callable[[str], None] | None = None, timeout_s: float = 10.0,
                 senders: dict[str, Callable[[str, Message], None]] | None = None) -> None:
        self.timeout_s = timeout_s
        self.senders: dict[str, Callable[[str, Message], None]] = {"console": console_sender(console)}
        self.senders.update(senders or {})

    def send(self, url: str, msg: Message) -> None:
        """Deliver ``msg``; raise :class:`DeliveryError` when it did not go out."""
        scheme = url.split("://", 1)[0].lower()
        sender = self.senders.get(scheme)
        if sender is not None:
            sender(url, msg)
            return
        apprise_send(url, msg, timeout_s=self.timeout_s)
