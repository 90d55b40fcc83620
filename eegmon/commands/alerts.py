"""Alert history, acknowledgement and delivery from the monitor's outbox.

  list     every seizure event with its alerts and their delivery status, then the other
           messages (the daily forecast) and theirs
  ack ID   acknowledge an event (its id or a unique prefix): stops escalation and reminders
  deliver  run the delivery worker (escalations, reminders, retries) without a monitor;
           --once delivers what is due now and exits
  serve    deliver and serve acknowledgement links until interrupted

The outbox is the SQLite file the monitor writes (default ARCHIVE.h5.alerts.sqlite with
--archive, else eegmon-alerts.sqlite); give it with --outbox.

examples:
  eegmon alerts list --outbox patient.h5.alerts.sqlite
  eegmon alerts ack 3f9c2a --outbox patient.h5.alerts.sqlite
  eegmon alerts deliver --once --alerts alerts.toml --outbox patient.h5.alerts.sqlite
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "ack", "deliver", "serve"), help="what to do")
    parser.add_argument("event", nargs="?", default=None, metavar="ID", help="event id (or prefix) for 'ack'")
    parser.add_argument("--outbox", type=Path, default=Path("eegmon-alerts.sqlite"), metavar="DB",
                        help="the outbox file (default: eegmon-alerts.sqlite)")
    parser.add_argument("--alerts", type=Path, default=None, metavar="POLICY",
                        help="alert policy TOML (for deliver/serve; default: console only)")
    parser.add_argument("--once", action="store_true", help="deliver: one round, then exit")
    parser.add_argument("--by", default="cli", help="ack: who acknowledges (default: cli)")


def run(args: argparse.Namespace) -> int:
    from ..errors import EegmonError
    from ..events import to_datetime
    from ..streaming.outbox import Outbox
    from ..streaming.policy import load_policy

    if args.action != "ack" and args.event is not None:
        raise EegmonError(f"'{args.action}' takes no event id (got {args.event!r}).")
    if args.action in ("list", "ack") and not args.outbox.is_file():
        raise EegmonError("no such outbox (the monitor creates it).", args.outbox)
    policy = load_policy(args.alerts)
    if args.action in ("deliver", "serve"):
        return _deliver(args, policy)
    outbox = Outbox(args.outbox, policy)
    if args.action == "list":
        events = outbox.events()
        if not events:
            print("no seizure events")
        for ev in events:
            acked = (f"acknowledged {to_datetime(ev['acked_at']):%Y-%m-%d %H:%M:%S} by {ev['acked_by']}"
                     if ev["acked_at"] else "not acknowledged")
            print(f"{ev['id']}  {ev['stream']}  onset {to_datetime(ev['onset']):%Y-%m-%d %H:%M:%S} UTC  "
                  f"p={ev['probability']:.2f}  {acked}")
            for a in ev["alerts"]:
                when = f" at {to_datetime(a['sent_at']):%H:%M:%S}" if a["sent_at"] else ""
                err = f" ({a['last_error']})" if a["last_error"] and a["state"] != "sent" else ""
                print(f"    {a['kind']:<14} {a['contact']:<16} channel {a['channel']}  {a['state']}{when}  "
                      f"attempts {a['attempts']}{err}")
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

    live = LiveSystem(args.outbox, policy, serve_acks=args.action == "serve")
    if args.action == "deliver" and args.once:
        try:
            sent = live.worker.run_once()
            print(f"{sent} alert(s) sent; {len(live.outbox.alerts('pending'))} pending")
        finally:
            live.stop()
        return 0
    with live:
        if live.ack_server is not None:
            print(f"acknowledgement endpoint on {live.ack_server.url}/ack")
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
    return 0
