"""Alert history, acknowledgement and delivery from the monitor's outbox.

  list     every seizure event with its alerts and their delivery status, then the other
           messages (the daily forecast) and theirs
  ack ID   acknowledge an event (its id or a unique prefix): stops escalation and reminders
  deliver  run the delivery worker (escalations, reminders, retries) without a monitor;
           --once delivers what is due now and exits
  serve    deliver, serve acknowledgement links and the caregiver page (/home) and watch the
           monitor's heartbeat until interrupted
  page-link --contact NAME
           print a new caregiver page link for NAME ([ack] base_url + /home?t=...): monitoring
           status, recent alerts with "I am on it" buttons, the daily forecast. It works for
           [ack] page_link_days (default 90) until revoked; give each person their own link
  revoke-links --contact NAME [--link ID]
           revoke NAME's page links (all, or the one with link id ID): they are refused at once
  watch    the watchdog, as its own process beside the monitor: tells every contact when the
           monitor's heartbeat is older than [supervision] stale_s (a crash, a frozen or
           powered-off computer) and when it is running again; it also delivers, since the
           monitor's own delivery stops with it
  test     send a test alert now through every channel of every contact (or of --contact NAME)
           and report each channel: OK or its error; exit 1 when one failed. It goes straight
           to the channels, once each, not through the outbox: no monitor needed, no event
           created, nothing retried later
  recover  the outbox is missing, empty or damaged: move it aside (DB.damaged-<UTC time>, never
           deleted), salvage what it still holds and queue an alert again, marked recovered, for
           every seizure detection of --archive newer than the last delivered alert (else the
           last 24 h; --since overrides); a detection already in the outbox is not alerted twice

The outbox is the SQLite file the monitor writes (default ARCHIVE.h5.alerts.sqlite with
--archive, else eegmon-alerts.sqlite); give it with --outbox. It is checked when opened: a
damaged file, or one missing events its ledger (DB.ledger) lists, is an error naming 'recover'.

examples:
  eegmon alerts test --alerts alerts.toml
  eegmon alerts test --alerts alerts.toml --contact neighbour
  eegmon alerts list --outbox patient.h5.alerts.sqlite
  eegmon alerts ack 3f9c2a --outbox patient.h5.alerts.sqlite
  eegmon alerts page-link --contact parent --alerts alerts.toml --outbox patient.h5.alerts.sqlite
  eegmon alerts revoke-links --contact parent --alerts alerts.toml --outbox patient.h5.alerts.sqlite
  eegmon alerts deliver --once --alerts alerts.toml --outbox patient.h5.alerts.sqlite
  eegmon alerts watch --alerts alerts.toml --outbox patient.h5.alerts.sqlite
  eegmon alerts recover --archive patient.h5 --alerts alerts.toml
  eegmon alerts recover --archive patient.h5 --since 2026-12-01T08:00:00+00:00
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path

_AGO = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")


def _since(text: str) -> float:
    """An ISO 8601 time with its UTC offset, or a duration before now (``90m``, ``6h``, ``2d``)."""
    m = _AGO.match(text)
    if m:
        return dt.datetime.now(dt.UTC).timestamp() - float(m.group(1)) * {"m": 60, "h": 3600, "d": 86400}[m.group(2)]
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time with its offset (2026-12-01T08:00:00+00:00) "
                                         f"or a duration before now (90m, 6h, 2d), got {text!r}")
    return when.timestamp()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "ack", "deliver", "serve", "watch", "recover", "test",
                                           "page-link", "revoke-links"), help="what to do")
    parser.add_argument("event", nargs="?", default=None, metavar="ID", help="event id (or prefix) for 'ack'")
    parser.add_argument("--outbox", type=Path, default=None, metavar="DB",
                        help="the outbox file (default: ARCHIVE.h5.alerts.sqlite with --archive, else "
                             "eegmon-alerts.sqlite)")
    parser.add_argument("--alerts", type=Path, default=None, metavar="POLICY",
                        help="alert policy TOML (for deliver/serve/recover/test; default: console only)")
    parser.add_argument("--contact", default=None, metavar="NAME",
                        help="test: only this contact's channels (default: every contact); page-link, "
                             "revoke-links: whose page link")
    parser.add_argument("--link", default=None, metavar="ID",
                        help="revoke-links: only this link id (page-link and list print it; default: all of "
                             "the contact's links)")
    parser.add_argument("--once", action="store_true", help="deliver: one round, then exit")
    parser.add_argument("--by", default="cli", help="ack: who acknowledges (default: cli)")
    parser.add_argument("--archive", type=Path, default=None, metavar="ARCHIVE.h5",
                        help="recover: the archive the monitor wrote (its detections rebuild the outbox)")
    parser.add_argument("--since", type=_since, default=None, metavar="TIME",
                        help="recover: alert again the detections after this time (ISO 8601 with offset, or "
                             "e.g. 6h before now; default: the last delivered alert, else the last 24 h)")


def run(args: argparse.Namespace) -> int:
    from ..errors import EegmonError
    from ..events import to_datetime
    from ..streaming.outbox import Outbox, read_ledger, recover_hint
    from ..streaming.policy import load_policy

    if args.action != "ack" and args.event is not None:
        raise EegmonError(f"'{args.action}' takes no event id (got {args.event!r}).")
    links = args.action in ("page-link", "revoke-links")
    if args.action != "test" and not links and args.contact is not None:
        raise EegmonError(f"--contact is for 'test', 'page-link' and 'revoke-links' (got it with '{args.action}').")
    if links and not args.contact:
        raise EegmonError(f"'{args.action}' needs --contact NAME (a contact of the alert policy).")
    if args.action != "revoke-links" and args.link is not None:
        raise EegmonError(f"--link is for 'revoke-links' only (got it with '{args.action}').")
    if args.action == "test":
        policy = load_policy(args.alerts)
        policy.check_environment()
        return _test(policy, args.contact)
    if args.outbox is None:
        args.outbox = (args.archive.with_name(args.archive.name + ".alerts.sqlite") if args.archive is not None
                       else Path("eegmon-alerts.sqlite"))
    if args.action == "recover":
        return _recover(args, load_policy(args.alerts))
    if (args.action in ("list", "ack") or links) and not args.outbox.is_file():
        held = read_ledger(args.outbox).get("events")
        if held:
            raise EegmonError(f"no such outbox, but its ledger says it held {held} event(s): rebuild it with "
                              f"'{recover_hint(args.outbox)}'.", args.outbox)
        raise EegmonError("no such outbox (the monitor or 'eegmon alerts serve' creates it).", args.outbox)
    policy = load_policy(args.alerts)
    if links:
        return _links(args, policy)
    if args.action in ("deliver", "serve", "watch"):
        policy.check_environment()
        return _watch(args, policy) if args.action == "watch" else _deliver(args, policy)
    outbox = Outbox(args.outbox, policy)
    if args.action == "list":
        events = outbox.events()
        if not events:
            print("no seizure events")
        for ev in events:
            acked = (f"acknowledged {to_datetime(ev['acked_at']):%Y-%m-%d %H:%M:%S} by {ev['acked_by']}"
                     if ev["acked_at"] else "not acknowledged")
            recovered = (f"  recovered {to_datetime(ev['recovered_at']):%Y-%m-%d %H:%M:%S} UTC"
                         if ev["recovered_at"] else "")
            print(f"{ev['id']}  {ev['stream']}  onset {to_datetime(ev['onset']):%Y-%m-%d %H:%M:%S} UTC  "
                  f"p={ev['probability']:.2f}  {acked}{recovered}")
            for a in ev["alerts"]:
                when = f" at {to_datetime(a['sent_at']):%H:%M:%S}" if a["sent_at"] else ""
                err = f" ({a['last_error']})" if a["last_error"] and a["state"] != "sent" else ""
                print(f"    {a['kind']:<14} {a['contact']:<16} channel {a['channel']}  {a['state']}{when}  "
                      f"attempts {a['attempts']}{err}")
        _list_links(outbox)
        notices = outbox.notices()
        if notices:
            print("messages (not seizure events; e.g. the daily forecast):")
        for n in notices:
            when = f" at {to_datetime(n['sent_at']):%Y-%m-%d %H:%M:%S}" if n["sent_at"] else ""
            err = f" ({n['last_error']})" if n["last_error"] and n["state"] != "sent" else ""
            print(f"    {n['kind']:<14} {n['contact']:<16} channel {n['channel']}  {n['state']}{when}  "
                  f"attempts {n['attempts']}{err}  {n['title']}")
        return 0
    if not args.event:
        raise EegmonError("'ack' needs the event id (see 'eegmon alerts list').")
    if outbox.acknowledge(args.event, by=args.by):
        print(f"acknowledged {args.event}")
    else:
        print(f"{args.event} was already acknowledged")
    return 0


def _deliver(args: argparse.Namespace, policy) -> int:
    """``deliver`` (``--once``: one round) and ``serve`` (with the acknowledgement endpoint)."""
    import time

    from ..streaming.live import LiveSystem

    live = LiveSystem(args.outbox, policy, serve_acks=args.action == "serve", watch=args.action == "serve")
    if args.action == "deliver" and args.once:
        try:
            sent = live.worker.run_once()
            print(f"{sent} alert(s) sent; {len(live.outbox.alerts('pending'))} pending")
        finally:
            live.stop()
        return 0
    with live:
        if live.ack_server is not None:
            print(f"acknowledgement endpoint on {live.ack_server.url}/ack; caregiver page on "
                  f"{live.ack_server.url}/home (open it with a link from 'eegmon alerts page-link')")
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
    return 0


def _links(args: argparse.Namespace, policy) -> int:
    """``page-link`` (print a new caregiver page link) and ``revoke-links``."""
    from ..streaming.ack import HOME, PageLinks, TokenSigner
    from ..streaming.outbox import Outbox, local_time

    outbox = Outbox(args.outbox, policy)
    links = PageLinks(TokenSigner.from_policy(policy), outbox)
    if args.action == "revoke-links":
        n = links.revoke(args.contact, args.link)
        which = f"link {args.link}" if args.link else "page links"
        print(f"revoked {n} working {which} of {args.contact}" if n else f"{args.contact} had no working {which}")
        return 0
    days = policy.ack.page_link_days
    token, link = links.issue(args.contact, days)
    # stdout only, never a log line: whoever holds the URL sees the page
    print(f"{policy.ack.base_url.rstrip('/')}{HOME}?t={token}")
    print(f"caregiver page link {link['id']} of {args.contact}, valid for {days:g} days (until "
          f"{local_time(link['expires'], policy.patient.time_zone)}); send it to {args.contact} only. Revoke it "
          f"with: eegmon alerts revoke-links --contact {args.contact} --link {link['id']} --outbox {args.outbox}")
    return 0


def _list_links(outbox) -> None:
    """The unexpired caregiver page links in ``list`` (the ids, never the tokens)."""
    from ..events import to_datetime
    from ..streaming.ack import page_links

    rows = page_links(outbox)
    if rows:
        print("caregiver page links:")
    for r in rows:
        state = f"revoked {to_datetime(r['revoked']):%Y-%m-%d %H:%M} UTC" if r["revoked"] else "working"
        print(f"    {r['id']}  {r['contact']:<16} issued {to_datetime(r['issued']):%Y-%m-%d %H:%M} UTC  expires "
              f"{to_datetime(r['expires']):%Y-%m-%d %H:%M} UTC  {state}")


def _watch(args: argparse.Namespace, policy) -> int:
    """``watch``: the watchdog and a delivery worker until interrupted (Ctrl-C or SIGTERM)."""
    import signal

    from ..errors import EegmonError
    from ..streaming.supervision import watch

    if not policy.supervision.stale_s:
        raise EegmonError("'watch' needs [supervision] stale_s > 0 (it is the heartbeat's age that alarms).",
                          policy.path)
    stopping: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda *a: stopping.append(1))
    print(f"watching the monitor's heartbeat in {args.outbox} (alarm after {policy.supervision.stale_s:g} s)")
    try:
        watch(args.outbox, policy, stop=lambda: bool(stopping))
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


def _test(policy, contact: str | None) -> int:
    """``test``: one test message to each channel, sent now; 0 when all were delivered, else 1."""
    import secrets

    from ..streaming.channels import Channels, Message, redact

    contacts = policy.contacts if contact is None else (policy.contact(contact),)
    channels = Channels(timeout_s=policy.delivery.timeout_s)
    now = dt.datetime.now(dt.UTC)
    failed = 0
    total = sum(len(c.channels) for c in contacts)
    for c in contacts:
        for i, url in enumerate(c.channels):
            key = secrets.token_hex(16)  # a new message each run: receivers that keep keys must show it
            body = "\n".join([
                "eegmon test alert: if you got this, alerts reach you on this channel.",
                f"This is a test, not a seizure alert: nothing was detected for {policy.patient.alias}.",
                f"Sent {now:%Y-%m-%d %H:%M:%S} UTC by 'eegmon alerts test' to {c.name}, channel {i + 1} of "
                f"{len(c.channels)}.",
                f"Idempotency key: {key}"])
            msg = Message(key, f"eegmon test alert ({policy.patient.alias})", body, "", "test")
            try:
                channels.send(url, msg)
            except Exception as err:  # noqa: BLE001 - every channel is tried and its error reported
                failed += 1
                print(f"{c.name:<16} {redact(url)}  FAILED: {str(err).replace(url, redact(url))[:300]}")
            else:
                print(f"{c.name:<16} {redact(url)}  OK")
    print(f"test alert: {total - failed} of {total} channel(s) delivered"
          + (f", {failed} FAILED: fix them before relying on the alerts" if failed else ""))
    return 1 if failed else 0


def _recover(args: argparse.Namespace, policy) -> int:
    """``recover``: move the outbox aside, salvage it and re-alert the archive's detections."""
    from ..errors import EegmonError
    from ..events import to_datetime
    from ..streaming.recovery import recover_outbox

    if args.archive is None:
        raise EegmonError("'recover' needs --archive (the archive the monitor wrote).")
    report = recover_outbox(args.outbox, args.archive, policy, since=args.since)
    print(f"old outbox moved to {report.moved_to}" if report.moved_to else f"no outbox file at {args.outbox}")
    if report.salvage_errors:
        print(f"could not read: {'; '.join(report.salvage_errors)}")
    print("salvaged: " + (", ".join(f"{n} {t}" for t, n in report.salvaged.items() if n) or "nothing"))
    print(f"detections after {to_datetime(report.since):%Y-%m-%d %H:%M:%S} UTC ({report.since_from}): "
          f"{len(report.recovered)} alerted again as recovered, {report.known} already in the outbox")
    for ev in report.recovered:
        print(f"    {ev.id}  {ev.stream}  onset {to_datetime(ev.onset):%Y-%m-%d %H:%M:%S} UTC  p={ev.probability:.2f}")
    alerts = f" --alerts {args.alerts}" if args.alerts else ""
    print(f"rebuilt {report.outbox}; the alerts go out when the monitor runs, or now with "
          f"'eegmon alerts deliver --outbox {report.outbox}{alerts}'")
    return 0
