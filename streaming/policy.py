"""The alert policy: who is told what, when, and how hard we insist (a TOML file).

Example (``sample_data/alerts.example.toml`` is the documented reference)::

    [patient]
    alias = "Sam"             # the name the family chose: in every message, never an identifier
    time_zone = "Europe/London"  # times in messages and pages are local
    instructions = "Stay with Sam, time the seizure; rescue medication after 5 minutes."

    [alert]
    min_probability = 0.8     # the running event's peak probability must reach this
    min_duration_s = 2.0      # ... and it must have lasted this long (0 = alert at once)
    refractory_s = 600.0      # no second alert for one stream within this time of an alerted onset
    bad_signal = "quiet"      # bad signal is logged as signal-quality events, never alerted
    escalate_after_min = 5.0  # not acknowledged after N minutes: alert the next contact
    reminder_every_min = 10.0 # repeat to the contacts alerted so far every N minutes ...
    max_reminders = 3         # ... at most this many times (0 = no reminders)
    countdown_s = 0.0         # > 0: the first contact can cancel a false alarm this long before the others are told

    [delivery]
    give_up_after_min = 60.0  # a seizure alert is retried this long after it was queued, then escalated
    urgent_min = 10.0         # during an alert's first N minutes ...
    urgent_backoff_max_s = 5.0  # ... the backoff between attempts is capped here (a receiver back is used at once)
    backoff_initial_s = 1.0   # exponential backoff with jitter between attempts ...
    backoff_max_s = 60.0      # ... capped here after the urgent minutes (and for notices)
    max_attempts = 12         # notices only (the daily forecast): attempts before one is given up
    timeout_s = 10.0

    [ack]
    secret = "${EEGMON_ACK_SECRET}"   # HMAC key for acknowledgement links (from the environment)
    base_url = "http://127.0.0.1:8765"
    host = "127.0.0.1"
    port = 8765
    token_ttl_min = 120.0
    page_link_days = 90.0     # caregiver page links (eegmon alerts page-link) work this long, unless revoked

    [supervision]             # alarms about the monitoring itself (0 or "" turns one off)
    no_data_s = 60.0          # no samples this long: the device or its link is lost
    bad_signal_min = 10.0     # flat, disconnected, clipped or noisy signal this long
    battery_low = 0.15        # where the source reports a battery level
    heartbeat_s = 10.0        # a running monitor records that it is alive this often ...
    stale_s = 60.0            # ... and the watchdog (eegmon alerts watch|serve) alarms when it is older
    deadman_url = ""          # optional: pinged every deadman_every_s so a dead machine is noticed elsewhere
    deadman_every_s = 60.0

    [[contacts]]
    name = "parent"
    channels = ["mailto://alerts:${SMTP_PASSWORD}@smtp.example.org?to=parent@example.org", "console://"]
    daily_forecast = true     # also one seizure-risk forecast message a day (default false)

    [[contacts]]
    name = "neighbour"
    channels = ["json://hooks.example.org/${HOOK_KEY}"]

Channel URLs are apprise URLs (``mailto://``, ``json://``, ``ntfy://``, ``tgram://``, ...) plus
``console://`` (standard output). ``${NAME}`` is replaced by the environment variable NAME when
the alert is sent; the URLs are never written to the outbox, the archive or the logs (logs show
them redacted).

A policy that could not alert anyone is refused when it is loaded: no ``[[contacts]]``, a contact
without channels, or a channel URL that apprise cannot parse (checked with the environment
variables that are set; one whose ``${NAME}`` is unset is checked for a known scheme only, and
:meth:`Policy.check_environment` refuses it before a monitor or delivery worker starts).

Delivery never gives up silently: a seizure alert is retried with exponential backoff (capped at
``urgent_backoff_max_s`` in its first ``urgent_min`` minutes, then at ``backoff_max_s``) for
``give_up_after_min`` minutes after it was queued; then it is marked ``failed``, logged at ERROR
and a ``delivery_failed`` alert goes to the next contact, or, from the last contact, to every
other channel (:class:`~eegmon.streaming.outbox.Outbox`). ``max_attempts`` no longer stops
seizure alerts: it is kept for old files and bounds only notices (the daily forecast message).

``daily_forecast = true`` opts a contact in to the daily seizure-risk forecast message that
``eegmon forecast ARCHIVE --alerts POLICY`` queues (:mod:`eegmon.streaming.forecast_message`); it
goes to all of the contact's channels and is never escalated or repeated. Seizure alerts go to
every contact whatever this key says.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from eegmon.errors import EegmonError

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CONTACT_KEYS = {"name", "channels", "daily_forecast"}
#: Longest life of a caregiver page link (``[ack] page_link_days``): a link is a key to the page.
MAX_PAGE_LINK_DAYS = 366


@dataclass(frozen=True)
class Contact:
    """One person to alert, in escalation order.

    Attributes
    ----------
    name : str
        Unique name (used in the outbox and the logs).
    channels : tuple of str
        Apprise URLs or ``console://``, possibly with ``${ENV}`` references (unexpanded).
    daily_forecast : bool
        Whether the contact also gets the daily seizure-risk forecast message.
    """

    name: str
    channels: tuple[str, ...]
    daily_forecast: bool = False


@dataclass(frozen=True)
class AlertRules:
    """When a detection becomes an alert (see the module docstring)."""

    min_probability: float = 0.8
    min_duration_s: float = 2.0
    refractory_s: float = 600.0
    bad_signal: str = "quiet"
    escalate_after_min: float = 5.0
    reminder_every_min: float = 10.0
    max_reminders: int = 3
    countdown_s: float = 0.0


@dataclass(frozen=True)
class PatientSettings:
    """Who the messages are about and how they read (``[patient]``).

    Attributes
    ----------
    alias : str
        The name the family chose for messages and pages ("Sam"); never an identifier, and never
        written to the logs.
    time_zone : str
        IANA time zone of the home (``Europe/London``): times in messages and pages are local.
    instructions : str
        What to do, written into every seizure alert (e.g. the care plan's first steps).
    """

    alias: str = "the patient"
    time_zone: str = "UTC"
    instructions: str = ""


@dataclass(frozen=True)
class Supervision:
    """Alarms about the monitoring itself (``[supervision]``); 0 (or "") turns one off.

    Attributes
    ----------
    no_data_s : float
        No samples from the source for this long: the device or its link is lost.
    bad_signal_min : float
        Bad signal (flat, disconnected, clipped, noisy) for this long.
    battery_low : float
        Battery below this fraction, where the source reports one.
    heartbeat_s : float
        How often a running monitor records that it is alive.
    stale_s : float
        The watchdog (``eegmon alerts watch`` / ``serve``) alarms when the heartbeat is older.
    deadman_url : str
        Optional URL pinged (HTTP GET) every ``deadman_every_s`` while monitoring runs, so that a
        machine that loses power is noticed elsewhere (a dead-man's-switch service).
    deadman_every_s : float
        Seconds between dead-man pings.
    """

    no_data_s: float = 60.0
    bad_signal_min: float = 10.0
    battery_low: float = 0.15
    heartbeat_s: float = 10.0
    stale_s: float = 60.0
    deadman_url: str = ""
    deadman_every_s: float = 60.0


@dataclass(frozen=True)
class Delivery:
    """Retries of one alert or notice (see the module docstring)."""

    give_up_after_min: float = 60.0
    urgent_min: float = 10.0
    urgent_backoff_max_s: float = 5.0
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_attempts: int = 12
    timeout_s: float = 10.0

    def backoff_s(self, attempts: int, age_s: float, jitter: float, *, urgent: bool = True) -> float:
        """Seconds before the next try after ``attempts`` failures of a message queued ``age_s`` ago.

        ``jitter`` in [0, 1) adds up to 25 % before the cap, so the cap is never exceeded;
        ``urgent`` (seizure alerts) uses the short cap during the first ``urgent_min`` minutes.
        """
        cap = self.urgent_backoff_max_s if urgent and age_s < self.urgent_min * 60.0 else self.backoff_max_s
        return min(cap, self.backoff_initial_s * 2.0 ** min(max(attempts - 1, 0), 60) * (1.0 + 0.25 * jitter))


@dataclass(frozen=True)
class AckSettings:
    """Acknowledgement links, caregiver page links and the endpoint that serves both.

    ``page_link_days`` is the life of a caregiver page link (``eegmon alerts page-link``), in
    days, at most :data:`MAX_PAGE_LINK_DAYS`.
    """

    secret: str = ""
    base_url: str = "http://127.0.0.1:8765"
    host: str = "127.0.0.1"
    port: int = 8765
    token_ttl_min: float = 120.0
    page_link_days: float = 90.0


@dataclass(frozen=True)
class Policy:
    """The whole alert policy."""

    contacts: tuple[Contact, ...] = ()
    alert: AlertRules = field(default_factory=AlertRules)
    delivery: Delivery = field(default_factory=Delivery)
    ack: AckSettings = field(default_factory=AckSettings)
    path: str = "<default>"
    patient: PatientSettings = field(default_factory=PatientSettings)
    supervision: Supervision = field(default_factory=Supervision)

    def contact(self, name: str) -> Contact:
        """The contact called ``name``."""
        for c in self.contacts:
            if c.name == name:
                return c
        raise EegmonError(f"no contact named {name!r} in the alert policy.", self.path)

    def check_environment(self) -> None:
        """Refuse a policy whose channels cannot be sent now: an unset ``${NAME}`` or an unparsable URL.

        Run before a monitor or a delivery worker starts, so that a missing secret is one line at
        start-up instead of an alert that can never go out.
        """
        for contact in self.contacts:
            for i, url in enumerate(contact.channels):
                where = f"channel {i} ({_scheme(url)}://...) of contact {contact.name!r}"
                check_channel_url(expand_env(url, where=where, path=self.path), where, self.path)


def expand_env(text: str, *, where: str = "", path: str = "") -> str:
    """Replace ``${NAME}`` by the environment variable NAME (an error naming ``where`` if unset)."""
    def sub(m: re.Match) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise EegmonError(f"{where or 'a setting'} refers to ${{{m.group(1)}}}, which is not set in the "
                              "environment.", path or None)
        return value
    return _ENV.sub(sub, text)


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def check_channel_url(url: str, where: str, path: str) -> None:
    """Refuse a channel URL that apprise cannot parse (``console://`` is ours).

    ``${NAME}`` references are replaced by the variable when it is set; while one is unset the
    URL cannot be checked whole (e.g. a Telegram token has a format), so only its scheme is.
    The message names the scheme only: the rest of a URL may hold a secret.
    """
    scheme = _scheme(url)
    if scheme == "console":
        return
    import apprise
    from apprise.manager_plugins import NotificationManager

    unset = [m.group(1) for m in _ENV.finditer(url) if m.group(1) not in os.environ]
    if not unset:
        url = expand_env(url, where=where, path=path)
        if apprise.Apprise.instantiate(url, suppress_exceptions=True) is None:
            raise EegmonError(f"{where} is not a URL apprise can parse (a {scheme}:// URL; see the apprise "
                              "wiki for its form).", path)
    elif scheme not in NotificationManager():
        raise EegmonError(f"{where} has the scheme {scheme!r}, which apprise does not know.", path)


def _section(data: dict, key: str, cls, path: str):
    raw = data.get(key, {})
    if not isinstance(raw, dict):
        raise EegmonError(f"[{key}] must be a table.", path)
    known = {f for f in cls.__dataclass_fields__}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise EegmonError(f"unknown key {key}.{unknown[0]}; allowed: {', '.join(sorted(known))}.", path)
    values = {}
    for name, fdef in cls.__dataclass_fields__.items():
        if name not in raw:
            continue
        value, want = raw[name], type(fdef.default)
        if want is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, want) or isinstance(value, bool) != (want is bool):
            raise EegmonError(f"{key}.{name} must be a {want.__name__}, got {value!r}.", path)
        if want in (int, float) and value < 0:
            raise EegmonError(f"{key}.{name} must be >= 0, got {value!r}.", path)
        values[name] = value
    return cls(**values)


def parse_policy(data: dict, path: str = "<policy>") -> Policy:
    """Validate a parsed TOML document into a :class:`Policy` (errors name the file and key)."""
    sections = ("patient", "alert", "delivery", "ack", "supervision", "contacts")
    unknown = sorted(set(data) - set(sections))
    if unknown:
        raise EegmonError(f"unknown section [{unknown[0]}]; allowed: {', '.join(sections)}.", path)
    patient = _section(data, "patient", PatientSettings, path)
    if not patient.alias.strip():
        raise EegmonError("patient.alias must not be empty (the name messages use, e.g. \"Sam\").", path)
    from eegmon.forecast.seizures import time_zone

    time_zone(patient.time_zone, "patient.time_zone: ", path)
    supervision = _section(data, "supervision", Supervision, path)
    for name in ("heartbeat_s", "deadman_every_s"):
        if not getattr(supervision, name) > 0:
            raise EegmonError(f"supervision.{name} must be > 0, got {getattr(supervision, name)}.", path)
    if not supervision.battery_low < 1:
        raise EegmonError(f"supervision.battery_low is a fraction below 1, got {supervision.battery_low}.", path)
    if supervision.stale_s and supervision.stale_s <= supervision.heartbeat_s:
        raise EegmonError(f"supervision.stale_s ({supervision.stale_s:g}) must be longer than heartbeat_s "
                          f"({supervision.heartbeat_s:g}), or 0 for no watchdog.", path)
    if supervision.deadman_url:
        from urllib.parse import urlsplit

        parts = urlsplit(supervision.deadman_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise EegmonError("supervision.deadman_url must be an http:// or https:// URL.", path)
    alert = _section(data, "alert", AlertRules, path)
    if not 0 < alert.min_probability <= 1:
        raise EegmonError(f"alert.min_probability must be in (0, 1], got {alert.min_probability}.", path)
    if alert.bad_signal != "quiet":
        raise EegmonError(f"alert.bad_signal must be 'quiet', got {alert.bad_signal!r}.", path)
    delivery = _section(data, "delivery", Delivery, path)
    if delivery.max_attempts < 1:
        raise EegmonError("delivery.max_attempts must be >= 1.", path)
    for name in ("give_up_after_min", "urgent_backoff_max_s", "backoff_max_s"):
        if not getattr(delivery, name) > 0:
            raise EegmonError(f"delivery.{name} must be > 0, got {getattr(delivery, name)}.", path)
    ack = _section(data, "ack", AckSettings, path)
    if not 0 < ack.page_link_days <= MAX_PAGE_LINK_DAYS:
        raise EegmonError(f"ack.page_link_days must be in (0, {MAX_PAGE_LINK_DAYS}] days, got {ack.page_link_days:g}.",
                          path)
    if alert.countdown_s > 0 and not ack.secret:
        raise EegmonError("alert.countdown_s needs [ack] secret: the first contact cancels a false alarm with a "
                          "signed link.", path)
    contacts = []
    raw_contacts = data.get("contacts", [])
    if not isinstance(raw_contacts, list):
        raise EegmonError("contacts must be an array of tables ([[contacts]]).", path)
    for i, c in enumerate(raw_contacts):
        if not isinstance(c, dict):
            raise EegmonError(f"contacts[{i}] must be a table with the keys name and channels.", path)
        unknown = sorted(set(c) - _CONTACT_KEYS)
        if unknown:
            raise EegmonError(f"unknown key contacts[{i}].{unknown[0]}; allowed: {', '.join(sorted(_CONTACT_KEYS))}.",
                              path)
        name, channels = c.get("name"), c.get("channels")
        if not isinstance(name, str) or not name:
            raise EegmonError(f"contacts[{i}].name must be a non-empty string.", path)
        if not isinstance(channels, list) or not channels or not all(isinstance(u, str) and "://" in u
                                                                     for u in channels):
            raise EegmonError(f"contacts[{i}].channels must be a non-empty list of URLs (scheme://...).", path)
        if any(x.name == name for x in contacts):
            raise EegmonError(f"contacts[{i}].name {name!r} is used twice.", path)
        for j, url in enumerate(channels):
            check_channel_url(url, f"contacts[{i}].channels[{j}]", path)
        daily = c.get("daily_forecast", False)
        if not isinstance(daily, bool):  # "yes" or 1 would be a guess at what the caregiver meant
            raise EegmonError(f"contacts[{i}].daily_forecast must be true or false, got {daily!r}.", path)
        contacts.append(Contact(name, tuple(channels), daily))
    if not contacts:
        raise EegmonError("no [[contacts]]: nobody would be alerted. Add at least one, e.g. [[contacts]] "
                          'name = "me", channels = ["console://"].', path)
    return Policy(tuple(contacts), alert, delivery, ack, path, patient, supervision)


def load_policy(path: str | os.PathLike | None) -> Policy:
    """Read and validate a policy file (None: defaults, console only)."""
    if path is None:
        return Policy((Contact("console", ("console://",)),))
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EegmonError("no such alert policy file.", path) from None
    except tomllib.TOMLDecodeError as err:
        raise EegmonError(f"not valid TOML: {err}", path) from None
    return parse_policy(data, str(path))
