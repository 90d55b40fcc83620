"""The caregiver page: what a family member sees at ``/home`` of the acknowledgement endpoint.

One phone-sized page (no JavaScript; it reloads itself every minute) for the contact whose page
link opened it (:class:`~eegmon.streaming.ack.PageLinks`):

* **Now**: whether monitoring runs (the monitor's heartbeat in the outbox, its age, the reason it
  stopped), the signal (an open bad-signal or no-signal episode among the latest quality events,
  and those events), the latest messages about the monitoring (no data, bad signal, stopped ...)
  and the last seizure alert;
* **Alerts**: the seizure events of the last 24 h, newest first, each with its state (pending,
  delivered, acknowledged by whom and when, cancelled) and, while it is open and this contact was
  alerted about it, an "I am on it" button (a POST that acknowledges it as this contact);
* **Forecast**: the latest daily forecast message, while its day lasts.

Everything read comes from the outbox, the one store the monitor and ``eegmon alerts serve``
share; nothing here writes but :func:`acknowledge`. Times are local (``[patient] time_zone``),
the patient is named by the alias only (the stream id, which may be an identifier, never shows),
and everything echoed is HTML-escaped.
"""

from __future__ import annotations

import html

from .outbox import _DEFAULT_INSTRUCTIONS, Outbox, acknowledger, local_time
from .supervision import HEARTBEAT_KEY, STOP_REASONS

#: Seizure events shown: those detected within this many seconds, at most :data:`MAX_ALERTS`.
RECENT_S = 86400.0
MAX_ALERTS = 20
#: Quality events read (the latest) and shown.
QUALITY_READ = 200
QUALITY_SHOWN = 3
#: The page reloads itself this often (seconds).
REFRESH_S = 60

_QUALITY_WORDS = {
    "gap": "gap in the data", "late": "late data dropped", "overlap": "overlapping data trimmed",
    "clock_jump": "device clock jumped", "malformed": "damaged data dropped", "engine_error": "internal error, "
    "recovered", "nan_start": "no signal", "nan_end": "signal back", "bad_signal_start": "bad signal (flat, "
    "disconnected or clipped)", "bad_signal_end": "signal good again"}


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


class _Clock:
    """Local times of one page: ``at(t)`` is ``"02:14"``, with the date when not today."""

    def __init__(self, zone: str, now: float) -> None:
        self.zone, self.now = zone, now

    def at(self, t: float) -> str:
        return local_time(t, self.zone, now=self.now).rsplit(" (", 1)[0]

    def ago(self, t: float) -> str:
        s = max(0.0, self.now - t)
        return f"{s:.0f} s ago" if s < 120 else f"{s / 60:.0f} min ago" if s < 7200 else f"{s / 3600:.0f} h ago"


def _monitoring(outbox: Outbox, clock: _Clock) -> tuple[bool, str]:
    """Whether the monitor runs (its heartbeat is fresh), and a sentence saying so."""
    beat = outbox.get_meta(HEARTBEAT_KEY)
    if not beat:
        return False, "Monitoring has not started: no monitor has written to this outbox yet."
    stale_s = outbox.policy.supervision.stale_s or 6 * outbox.policy.supervision.heartbeat_s
    if beat["state"] in STOP_REASONS:
        return False, (f"Monitoring {STOP_REASONS[beat['state']][1]} at {clock.at(beat['t'])}: seizures are not "
                       "detected.")
    if clock.now - beat["t"] > stale_s:
        return False, (f"Monitoring has stopped unexpectedly: the last sign of life was at {clock.at(beat['t'])} "
                       f"({clock.ago(beat['t'])}). Seizures are not detected.")
    if "data" not in beat:  # a monitor from before heartbeats said when data came
        return True, f"Monitoring is running (last sign of life {clock.ago(beat['t'])})."
    data = beat["data"]
    if data is None:
        return True, f"Monitoring is running (last sign of life {clock.ago(beat['t'])}); no data has arrived yet."
    return True, (f"Monitoring is running (last sign of life {clock.ago(beat['t'])}; last data at {clock.at(data)}, "
                  f"{clock.ago(data)}).")


def _signal(outbox: Outbox, clock: _Clock, running: bool) -> tuple[bool, str, list[str]]:
    """Whether the signal is good now, a sentence, and the latest quality events as lines."""
    events = outbox.quality(latest=QUALITY_READ)
    open_since: dict[tuple[str, str], float] = {}
    for q in events:
        kind, _, edge = q["kind"].rpartition("_")
        if kind in ("bad_signal", "nan") and edge == "start":
            open_since.setdefault((q["stream"], kind), q["t"])
        elif kind in ("bad_signal", "nan") and edge == "end":
            open_since.pop((q["stream"], kind), None)
    lines = [f"{clock.at(q['t'])}: {_QUALITY_WORDS.get(q['kind'], q['kind'].replace('_', ' '))}"
             for q in reversed(events[-QUALITY_SHOWN:])]
    if not running:
        return False, "Signal: not known while monitoring is not running.", lines
    if open_since:
        return False, (f"Signal: bad since {clock.at(min(open_since.values()))}: seizures cannot be detected. Check "
                       "the electrode and its lead."), lines
    return True, "Signal: good.", lines


def _supervision(outbox: Outbox, clock: _Clock, notices: list[dict]) -> list[str]:
    """The latest messages about the monitoring itself (one line per message, not per channel)."""
    seen: dict[tuple[str, float], str] = {}
    for n in notices:
        if n["kind"].startswith("supervision"):
            seen[(n["title"], round(n["created"]))] = f"{clock.at(n['created'])}: {n['title'].removeprefix('eegmon: ')}"
    return [line for _, line in sorted(seen.items(), key=lambda kv: -kv[0][1])[:3]]


def _state(ev: dict, clock: _Clock) -> tuple[bool, str]:
    """Whether the event is still open, and its state in words."""
    if ev["cancelled_at"] is not None:
        return False, (f"Cancelled as a false alarm by {acknowledger(ev['cancelled_by'])} at "
                       f"{clock.at(ev['cancelled_at'])}.")
    if ev["acked_at"] is not None:
        return False, f"Acknowledged by {acknowledger(ev['acked_by'])} at {clock.at(ev['acked_at'])}."
    sent = sorted({a["contact"] for a in ev["alerts"] if a["state"] == "sent"})
    if sent:
        return True, f"Delivered to {', '.join(sent)}; not acknowledged yet."
    if ev["alerts"] and all(a["state"] == "failed" for a in ev["alerts"]):
        return True, "Could not be delivered; not acknowledged yet."
    return True, "Pending: being delivered; not acknowledged yet."


def _alerted(ev: dict, contact: str) -> bool:
    return any(a["contact"] == contact for a in ev["alerts"])


def _forecast(notices: list[dict], now: float) -> str:
    from .forecast_message import KIND  # the forecast's dependencies only when a page is shown

    current = [n for n in notices if n["kind"] == KIND and (n["expires"] is None or n["expires"] > now)]
    if not current:
        return "<p>No forecast for today yet.</p>"
    latest = max(current, key=lambda n: n["created"])
    title, body = (_esc(latest[k]).replace(" %", "&nbsp;%") for k in ("title", "body"))  # "62 %" on one line
    return f"<div class='card info'><p><b>{title}</b></p><pre>{body}</pre></div>"


def acknowledge(outbox: Outbox, contact: str, event: str, *, now: float) -> tuple[int, tuple[bool, str]]:
    """Acknowledge ``event`` as ``contact`` from the page: the HTTP status and what the page says (ok, text).

    Refused (403) when ``contact`` was not alerted about the event, and when it was cancelled;
    an event acknowledged before says by whom (200: not a failure for the family).
    """
    ev = next((e for e in outbox.events() if e["id"] == event), None)
    if ev is None:
        return 404, (False, "That alert is not in the outbox.")
    if not _alerted(ev, contact):
        return 403, (False, "Not acknowledged: you were not alerted about that alert, so this page cannot answer "
                            "it for you.")
    clock = _Clock(outbox.policy.patient.time_zone, now)
    if ev["cancelled_at"] is not None:
        return 403, (False, f"Not acknowledged: {_state(ev, clock)[1]}")
    if outbox.acknowledge(ev["id"], by=f"link:{contact}"):
        return 200, (True, "Acknowledged: thank you. The others who were alerted are told you are on it; escalation "
                           "and reminders are stopped.")
    done = outbox.event(ev["id"])
    return 200, (True, f"Already acknowledged by {acknowledger(done['acked_by'])} at {clock.at(done['acked_at'])}.")


def page(outbox: Outbox, contact: str, token: str, *, now: float,
         said: tuple[bool, str] | None = None) -> tuple[str, str]:
    """The caregiver page of ``contact``: the HTML body and what goes in its head (the reload).

    Parameters
    ----------
    outbox : Outbox
        The outbox the monitor writes (read only).
    contact : str
        The contact of the page link (checked by the caller).
    token : str
        The page link's token, for the reload and the buttons' forms.
    now : float
        The time, s since the epoch.
    said : (bool, str) | None
        The outcome of an acknowledgement just made (ok, text), shown first.
    """
    patient = outbox.policy.patient
    clock = _Clock(patient.time_zone, now)
    alias, t = _esc(patient.alias), _esc(token)
    notices = outbox.notices()
    events = outbox.events()
    running, monitoring = _monitoring(outbox, clock)
    good, signal, quality = _signal(outbox, clock, running)
    parts = [f"<h1>{alias}</h1><p class='small'>For {_esc(contact)}, {_esc(clock.at(now))} "
             f"({_esc(patient.time_zone)} time); this page reloads every minute.</p>"]
    if said is not None:
        parts.append(f"<div class='card{'' if said[0] else ' bad'}'><p><b>{_esc(said[1])}</b></p></div>")
    status = [f"<p>{_esc(monitoring)}</p>", f"<p>{_esc(signal)}</p>"]
    if quality:
        status.append("<p class='small'>Latest signal events:</p><ul class='small'>"
                      + "".join(f"<li>{_esc(q)}</li>" for q in quality) + "</ul>")
    messages = _supervision(outbox, clock, notices)
    if messages:
        status.append("<p class='small'>Latest messages about the monitoring:</p><ul class='small'>"
                      + "".join(f"<li>{_esc(m)}</li>" for m in messages) + "</ul>")
    if events:
        last = events[-1]
        status.append(f"<p>Last seizure alert: {_esc(clock.at(last['detected_at']))}. "
                      f"{_esc(_state(last, clock)[1])}</p>")
    else:
        status.append("<p>No seizure alert so far.</p>")
    now_card = f"<div class='card{'' if running and good else ' bad'}'>{''.join(status)}</div>"

    recent = [ev for ev in reversed(events) if now - ev["detected_at"] <= RECENT_S][:MAX_ALERTS]
    cards = {True: [], False: []}
    what = patient.instructions.strip() or _DEFAULT_INSTRUCTIONS.format(alias=patient.alias)
    for ev in recent:
        is_open, state = _state(ev, clock)
        card = [f"<p><b>Possible seizure at {_esc(clock.at(ev['detected_at']))}</b> (it started "
                f"{_esc(clock.at(ev['onset']))}).</p><p>{_esc(state)}</p>"]
        if is_open:
            card.append(f"<p><b>What to do:</b> {_esc(what)}</p>")
            if _alerted(ev, contact):
                card.append(f"<form method='post' action='home'><input type='hidden' name='t' value='{t}'>"
                            f"<input type='hidden' name='e' value='{_esc(ev['id'])}'>"
                            "<button class='calm'>I am on it</button></form>")
            else:
                card.append("<p class='small'>You have not been alerted about this one (yet), so it cannot be "
                            "acknowledged from your page.</p>")
        cards[is_open].append(f"<div class='card{' bad' if is_open else ''}'>{''.join(card)}</div>")
    # an open alert first: its button must be on the first screen of a phone
    if cards[True]:
        parts.append(f"<h2>Open seizure alert{'s' if len(cards[True]) > 1 else ''}</h2>" + "".join(cards[True]))
    parts.append(f"<h2>Now</h2>{now_card}<h2>Seizure alerts, last 24 h</h2>"
                 + ("".join(cards[False]) if cards[False] else "<p>None" + (" other" if cards[True] else "")
                    + ".</p>"))
    parts.append(f"<h2>Forecast</h2>{_forecast(notices, now)}")
    parts.append("<p class='small'>eegmon is research software, not a medical device: keep to the usual care "
                 "plan.</p>")
    # the relative URL keeps working behind a reverse proxy that serves eegmon under a path
    return "".join(parts), f"<meta http-equiv='refresh' content='{REFRESH_S}; url=home?t={t}'>"
