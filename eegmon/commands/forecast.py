"""Forecast the seizure risk of the next day and hours, or evaluate forecasts pseudo-prospectively.

SRC is an archive (its reviewer-confirmed detections by default; --include-unreviewed adds
the unreviewed ones, --ground-truth uses its imported annotations instead), a seizure diary
(.csv: date,time[,type][,duration] in the patient's --timezone; docs/forecasting.md), an SzCORE
events.tsv file, or a folder of events.tsv files or archives (one patient per subject or
archive). --diary adds a diary's seizures to SRC's. --marker detections (or a stored window
feature, e.g. line_length) gives the cycle model an hourly marker from the archive to find the
multi-day period in.

Without --evaluate: fits the forecaster on every seizure before the end of the data (or --now)
and prints the chance of at least one seizure in the next 24 h and in each of the next 24 hours,
as low / medium / high against the patient's usual chance. For an archive the forecasts are also
stored in it (the day-by-day forecasts since the 11th seizure, then the new ones), which the
viewer shows as a risk lane. --alerts POLICY sends the day's forecast to the contacts with
daily_forecast = true (through the outbox, like alerts; docs/monitoring.md).

With --evaluate: re-fits every forecaster at each midnight from the first after the 10th
seizure, issuing 24-h and 1-h forecasts from the past alone, and scores them (ROC AUC, Brier
score, Brier skill score against climatology and the 90-day moving average, sensitivity and
time in warning, p-value against day-shuffled surrogate seizure sets) per patient and pooled.
--json writes the scores (CONVENTIONS.md); --report an HTML report with the risk over time,
reliability diagrams and the cycles found.

eegmon is research software: a forecast is a probability, not a certainty, and not medical advice.

examples:
  eegmon forecast patient01.h5
  eegmon forecast diary.csv --timezone Europe/Paris --horizon 1h
  eegmon forecast patient01.h5 --diary diary.csv --timezone Europe/Paris --alerts alerts.toml
  eegmon forecast patient01.h5 --marker detections
  eegmon simulate /tmp/diaries --timings-only --days 365 --subjects 20 --seed 1
  eegmon forecast /tmp/diaries --evaluate --json forecast.json --report forecast.html
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SRC",
                        help="archive (.h5), diary (.csv), events.tsv, or a folder of events.tsv files or archives")
    parser.add_argument("--diary", type=Path, default=None, metavar="CSV", help="a seizure diary to add to SRC")
    parser.add_argument("--timezone", default=None, metavar="TZ",
                        help="IANA time zone of the diary's times and of printed times (e.g. Europe/Paris; "
                             "default: UTC for printing; a diary needs one unless it has a timezone column)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--include-unreviewed", action="store_true",
                        help="archive: also count detections nobody has reviewed (rejected ones never count)")
    source.add_argument("--ground-truth", action="store_true",
                        help="archive: use its imported annotations instead of its detections")
    parser.add_argument("--marker", default=None, metavar="KIND",
                        help="archive: an hourly cycle marker for the cycle model's multi-day period: detections "
                             "(detections per hour) or the name of a stored window feature (e.g. line_length)")
    parser.add_argument("--forecaster", default="cycles",
                        help="cycles (default), climatology, moving_average or time_of_day")
    parser.add_argument("--horizon", choices=("24h", "1h"), default=None,
                        help="only this horizon (default: both: the next day, and each of the next 24 hours)")
    parser.add_argument("--now", default=None, metavar="ISO",
                        help="issue the forecast at this time (ISO 8601; default: the end of the data)")
    parser.add_argument("--no-store", action="store_true", help="do not store the forecasts in the archive")
    parser.add_argument("--alerts", type=Path, default=None, metavar="POLICY",
                        help="send the day's forecast to contacts with daily_forecast = true in this alert policy")
    parser.add_argument("--outbox", type=Path, default=None, metavar="DB",
                        help="with --alerts: the outbox (default: ARCHIVE.h5.alerts.sqlite, else eegmon-alerts.sqlite)")
    parser.add_argument("--evaluate", action="store_true", help="pseudo-prospective evaluation instead of a forecast")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="with --evaluate: scores as JSON")
    parser.add_argument("--report", type=Path, default=None, metavar="PATH", help="with --evaluate: HTML report")
    parser.add_argument("--surrogates", type=int, default=200, metavar="N",
                        help="with --evaluate: surrogate seizure sets for the p-values (default: 200)")
    parser.add_argument("--seed", type=int, default=0, help="with --evaluate: seed of surrogates and bootstrap")
    parser.add_argument("--jobs", type=int, default=None,
                        help="with --evaluate: worker processes (default: the CPUs for 8 patients or more, else 1)")


def _check(args: argparse.Namespace) -> None:
    from .._checks import check_number, check_option
    from ..errors import EegmonError
    from ..forecast.forecasters import FORECASTERS

    check_option("--forecaster", args.forecaster, FORECASTERS)
    evaluate_only = [f"--{n}" for n in ("json", "report") if getattr(args, n) is not None]
    if not args.evaluate and evaluate_only:
        raise EegmonError(f"{' and '.join(evaluate_only)} only go with --evaluate.")
    if args.evaluate:
        for flag in ("alerts", "now", "horizon"):
            if getattr(args, flag) is not None:
                raise EegmonError(f"--{flag} does not go with --evaluate (it scores both horizons over the whole "
                                  "history).")
        check_number("--surrogates", args.surrogates, low=0, integer=True)
        if args.jobs is not None:
            check_number("--jobs", args.jobs, low=1, integer=True)
    if args.outbox is not None and args.alerts is None:
        raise EegmonError("--outbox goes with --alerts (the policy says who gets the forecast).")


def run(args: argparse.Namespace) -> int:
    from ..forecast.seizures import load_histories

    _check(args)
    histories = load_histories(args.source, diary=args.diary, timezone=args.timezone,
                               include_unreviewed=args.include_unreviewed, ground_truth=args.ground_truth)
    markers = _markers(args)
    if args.evaluate:
        return _evaluate(args, histories, markers)
    return _forecast(args, histories, markers)


def _markers(args: argparse.Namespace) -> dict:
    """The cycle marker of each archive in SRC, by patient (its file stem)."""
    from ..errors import EegmonError
    from ..forecast.markers import marker_from_archive

    if args.marker is None:
        return {}
    src = Path(args.source)
    archives = [src] if src.suffix.lower() in (".h5", ".hdf5") else sorted(src.glob("*.h5")) if src.is_dir() else []
    if not archives:
        raise EegmonError("--marker reads an archive's detections or features, and SRC holds no archive.", src)
    return {path.stem: marker_from_archive(path, args.marker) for path in archives}


def _zone(args: argparse.Namespace):
    import datetime as dt

    from ..forecast.seizures import time_zone

    return time_zone(args.timezone, "--timezone: ") if args.timezone else dt.UTC


def _forecast(args: argparse.Namespace, histories, markers: dict) -> int:
    import datetime as dt

    from .._logging import logger
    from ..errors import EegmonError
    from ..events import to_timestamp
    from ..forecast.evaluation import MIN_SEIZURES, cycles_found, forecast_patient
    from ..forecast.issue import forecast_next
    from ..forecast.seizures import check_histories

    check_histories(histories, MIN_SEIZURES)
    zone = _zone(args)
    now = None
    if args.now is not None:
        try:
            parsed = dt.datetime.fromisoformat(args.now)
        except ValueError:
            raise EegmonError(f"--now: bad time {args.now!r}: expected ISO 8601, e.g. 2026-03-01T08:00+01:00."
                              ) from None
        now = to_timestamp(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))
    horizons = (args.horizon,) if args.horizon else ("24h", "1h")
    archive = Path(args.source) if Path(args.source).suffix.lower() in (".h5", ".hdf5") else None
    for history in histories:
        if history.onsets.size <= MIN_SEIZURES:
            logger.warning("%s: %d seizures; forecasts start after %d: skipped", history.patient,
                           history.onsets.size, MIN_SEIZURES)
            continue
        marker = markers.get(history.patient)
        issued = forecast_next(history, args.forecaster, now, horizons, marker)
        if archive is not None and not args.no_store:
            past = forecast_patient(history, (args.forecaster,), horizons, marker=marker)
            found = past.cycles
        else:
            past, found = None, cycles_found(history, marker)
        _print_forecast(history, issued, zone, args.forecaster, found)
        if past is not None:
            _store(archive, past, issued, args.forecaster)
        if args.alerts is not None:
            _send(args, archive, issued)
    return 0


def _print_forecast(history, issued: dict, zone, forecaster: str, found: dict) -> None:
    period = f"{found['period_days']:.1f} days from the {found['period_source']}" if found["period_days"] else "none"
    cycles = [f"time of day {'yes' if found['circadian'] else 'no'} (R={found['circadian_r']:.2f})",
              f"multi-day {period} (R={found['multiday_r']:.2f})"]
    print(f"{history.patient}: {history.onsets.size} seizures over {history.days:.1f} days ({history.source}); "
          f"cycles found: {', '.join(cycles)}; forecaster: {forecaster}")

    def when(t: float, fmt: str) -> str:
        import datetime as dt

        return dt.datetime.fromtimestamp(t, tz=zone).strftime(fmt)

    for fc in issued.get("24h", []):
        print(f"  next 24 h from {when(fc.start, '%Y-%m-%d %H:%M %Z')}: {fc.level.upper():6s} "
              f"{100 * fc.probability:5.1f} %  (usual {100 * fc.climatology:.1f} %)")
    hours = issued.get("1h", [])
    if hours:
        print(f"  next hours ({when(hours[0].start, '%Z')}):")
        for fc in hours:
            print(f"    {when(fc.start, '%m-%d %H:%M')}  {fc.level:6s} {100 * fc.probability:5.1f} %  "
                  f"(usual {100 * fc.climatology:.1f} %)")
    print("  a forecast is a probability, not a certainty; eegmon is research software, not a medical device")


def _store(path: Path, pf, issued: dict, forecaster: str) -> None:
    from ..archive import Archive
    from ..forecast.issue import issued_forecasts
    from ..forecast.store import store_forecasts

    new = [fc for items in issued.values() for fc in items]
    first_new = min(fc.start for fc in new)
    past = [fc for fc in issued_forecasts(pf, forecaster) if fc.start + fc.horizon_s <= first_new]
    with Archive.open(path, "a") as arc:
        store_forecasts(arc, past + new)
    print(f"  stored {len(past) + len(new)} forecasts in {path}")


def _send(args: argparse.Namespace, archive: Path | None, issued: dict) -> None:
    from ..errors import EegmonError
    from ..streaming.channels import Channels
    from ..streaming.forecast_message import queue_daily_forecast
    from ..streaming.outbox import DeliveryWorker, Outbox
    from ..streaming.policy import load_policy

    if "24h" not in issued:
        raise EegmonError("--alerts sends the day's forecast: it needs the 24h horizon (leave out --horizon 1h).")
    policy = load_policy(args.alerts)
    policy.check_environment()
    outbox_path = args.outbox or (Path(f"{archive}.alerts.sqlite") if archive else Path("eegmon-alerts.sqlite"))
    outbox = Outbox(outbox_path, policy)
    try:
        queued = queue_daily_forecast(outbox, policy, issued["24h"][0], issued.get("1h", ()),
                                      tz=args.timezone or "UTC")
        sent = DeliveryWorker(outbox, Channels(timeout_s=policy.delivery.timeout_s)).run_once()
    finally:
        outbox.close()
    print(f"  forecast message: {queued} queued, {sent} sent now (the rest is retried by 'eegmon alerts deliver')")


def _evaluate(args: argparse.Namespace, histories, markers: dict) -> int:
    import json
    import os

    from .._logging import logger
    from ..forecast.evaluation import MIN_SEIZURES, evaluate
    from ..forecast.forecasters import FORECASTERS
    from ..io._files import write_text_atomic

    # a process pool costs a second or two to start: worth it for a cohort, not for one patient
    jobs = args.jobs or ((os.cpu_count() or 1) if len(histories) >= 8 else 1)
    ev = evaluate(histories, tuple(FORECASTERS), n_surrogates=args.surrogates, patient_ci=args.report is not None,
                  seed=args.seed, n_jobs=jobs, quiet=args.quiet, min_seizures=MIN_SEIZURES, markers=markers)
    for patient, n in ev.skipped:
        logger.warning("%s: %d seizures, forecasts start after %d: not evaluated", patient, n, MIN_SEIZURES)
    doc = ev.to_json(args.forecaster)
    _print_scores(ev, args.forecaster)
    if args.json is not None:
        write_text_atomic(args.json, json.dumps(doc, indent=2, allow_nan=False) + "\n")
    if args.report is not None:
        from ..forecast.report import write_report

        write_report(ev, args.report, forecaster=args.forecaster)
    return 0


def _print_scores(ev, forecaster: str) -> None:
    names = [forecaster] + [f for f in ev.forecasters if f != forecaster]
    print(f"pseudo-prospective evaluation: {len(ev.patients)} patient(s), "
          f"{sum(p.history.onsets.size for p in ev.patients)} seizures; pooled over all forecasts")
    header = f"{'horizon':8s}{'forecaster':16s}{'AUC':>7s}{'Brier':>8s}{'BSS clim':>10s}{'BSS MA':>9s}" \
             f"{'sens hi':>9s}{'TiW hi':>8s}{'p':>8s}{'n':>9s}"
    print(header)
    for h in ev.horizons:
        for f in names:
            v = ev.pooled[f][h].values
            print(f"{h:8s}{f:16s}{v['auc']:7.3f}{v['brier']:8.4f}{v['bss_climatology']:10.3f}"
                  f"{v['bss_moving_average']:9.3f}{v['sensitivity_high']:9.3f}{v['time_in_warning_high']:8.3f}"
                  f"{v['p_value']:8.3f}{v['n_forecasts']:9d}")
