"""A self-contained HTML report of a pseudo-prospective forecast evaluation (figures embedded as PNG)."""

from __future__ import annotations

import html
import os

import numpy as np

from .._html import fmt, png, table
from ..io._files import write_text_atomic
from .cycles import DAY
from .evaluation import Evaluation

#: Patients drawn one by one (risk over time, rose plots); the tables list all.
MAX_PATIENTS = 12
_COLOURS = {"cycles": "tab:red", "climatology": "0.4", "moving_average": "tab:blue", "time_of_day": "tab:green"}


def _with_ci(scores, key: str):
    value = scores.values[key]
    ci = scores.ci.get(key)
    return f"{fmt(value)} ({fmt(ci[0])}–{fmt(ci[1])})" if ci else fmt(value)


def _pooled_rows(ev: Evaluation, order: list[str]) -> list[list]:
    rows = []
    for h in ev.horizons:
        for f in order:
            s = ev.pooled[f][h]
            v = s.values
            rows.append([h, f, _with_ci(s, "auc"), _with_ci(s, "brier"), _with_ci(s, "bss_climatology"),
                         _with_ci(s, "bss_moving_average"), s.sensitivity_medium, s.time_in_warning_medium,
                         v["sensitivity_high"], v["time_in_warning_high"], v["p_value"], v["n_forecasts"]])
    return rows


def _reliability(ev: Evaluation, order: list[str]):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(ev.horizons), figsize=(5 * len(ev.horizons), 4.2), squeeze=False)
    for ax, h in zip(axes[0], ev.horizons, strict=True):
        top = 0.0
        for f in order:
            mean_p, freq, _ = ev.pooled[f][h].reliability
            ax.plot(mean_p, freq, "o-", ms=3, color=_COLOURS.get(f), label=f)
            top = max(top, float(np.max(mean_p, initial=0)), float(np.max(freq, initial=0)))
        top = min(1.0, top * 1.1 + 1e-3)
        ax.plot([0, top], [0, top], ":", color="k", lw=1, label="perfect")
        ax.set(xlim=(0, top), ylim=(0, top), xlabel="forecast probability (bin mean)",
               ylabel="observed frequency", title=f"reliability, {h} horizon (10 quantile bins)")
        ax.legend(fontsize=8)
    return png(fig)


def _risk_over_time(ev: Evaluation, forecaster: str):
    import matplotlib.pyplot as plt

    horizon = "24h" if "24h" in ev.horizons else ev.horizons[0]
    patients = ev.patients[:MAX_PATIENTS]
    fig, axes = plt.subplots(len(patients), 1, figsize=(11, 1.7 * len(patients) + 0.6), squeeze=False)
    for ax, pf in zip(axes[:, 0], patients, strict=True):
        s, clim = pf.series[forecaster][horizon], pf.series["climatology"][horizon]
        days = (s.starts - pf.history.start) / DAY
        ax.step(days, s.probability, where="post", color=_COLOURS.get(forecaster), lw=1, label=forecaster)
        ax.step(days, clim.probability, where="post", color="0.5", lw=1, ls="--", label="climatology")
        onsets = (pf.history.onsets - pf.history.start) / DAY
        ax.plot(onsets, np.full(onsets.size, 1.02), "|", color="k", ms=6, label="seizures")
        ax.axvline((pf.first_issue - pf.history.start) / DAY, color="0.7", lw=0.8)
        ax.set(ylim=(0, 1.06), xlim=(0, pf.history.days), ylabel=pf.history.patient)
        ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7, ncol=3, loc="lower right")
    axes[-1, 0].set_xlabel(f"days from the start of observation ({horizon} forecasts; the grey line: first forecast)")
    return png(fig)


def _roses(ev: Evaluation):
    import matplotlib.pyplot as plt

    patients = ev.patients[:MAX_PATIENTS]
    fig, axes = plt.subplots(len(patients), 2, figsize=(6, 3 * len(patients)), subplot_kw={"projection": "polar"},
                             squeeze=False)
    for (ax_day, ax_cycle), pf in zip(axes, patients, strict=True):
        onsets = pf.history.onsets
        hours = (onsets % DAY) / 3600.0
        ax_day.hist(2 * np.pi * hours / 24, bins=24, range=(0, 2 * np.pi), color="tab:orange")
        ax_day.set_xticks(2 * np.pi * np.arange(0, 24, 6) / 24, ["0 h", "6 h", "12 h", "18 h"])
        ax_day.set_theta_zero_location("N")
        ax_day.set_theta_direction(-1)
        found = "phase-locked" if pf.cycles["circadian"] else "not significant"
        ax_day.set_title(f"{pf.history.patient}: time of day (UTC)\nR={pf.cycles['circadian_r']:.2f}, {found}",
                         fontsize=8)
        period = pf.cycles["period_days"]
        if period:
            phase = 2 * np.pi * ((onsets / (period * DAY)) % 1.0)
            ax_cycle.hist(phase, bins=18, range=(0, 2 * np.pi), color="tab:purple")
            ax_cycle.set_title(f"multi-day phase, period {period:.1f} d\nR={pf.cycles['multiday_r']:.2f}", fontsize=8)
        else:
            ax_cycle.set_title("no significant multi-day cycle", fontsize=8)
        ax_cycle.set_yticklabels([])
        ax_day.set_yticklabels([])
    return png(fig)


def write_report(ev: Evaluation, path: str | os.PathLike, *, forecaster: str = "cycles",
                 title: str = "eegmon forecast evaluation") -> None:
    """Write the HTML report: pooled scores with 95 % intervals, per-patient scores, figures."""
    import matplotlib

    matplotlib.use("Agg")
    order = [forecaster] + [f for f in ev.forecasters if f != forecaster]
    n_seizures = sum(p.history.onsets.size for p in ev.patients)
    days = sum(p.history.days for p in ev.patients)
    per_patient = []
    for pf, scores in zip(ev.patients, ev.per_patient, strict=True):
        row = [pf.history.patient, pf.history.onsets.size, round(pf.history.days, 1),
               f"{pf.cycles['period_days']:.1f}" if pf.cycles["period_days"] else "none",
               "yes" if pf.cycles["circadian"] else "no"]
        for h in ev.horizons:
            s = scores[forecaster][h]
            row += [_with_ci(s, "auc"), _with_ci(s, "bss_climatology"), s.values["bss_moving_average"],
                    s.values["p_value"]]
        per_patient.append(row)
    patient_header = ["patient", "seizures", "days", "multi-day period", "time of day"]
    for h in ev.horizons:
        patient_header += [f"AUC {h}", f"BSS clim {h}", f"BSS MA {h}", f"p {h}"]
    skipped = (f"<p>Not evaluated (10 seizures or fewer): {html.escape(', '.join(p for p, _ in ev.skipped))}.</p>"
               if ev.skipped else "")
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{len(ev.patients)} patient(s), {n_seizures} seizures over {days:.0f} patient-days. Pseudo-prospective: "
        "each forecaster is re-fitted at every midnight (UTC) from the first after a patient's 10th seizure, on "
        "the seizures before it only, and issues a 24-h forecast and 24 1-h forecasts. BSS clim: Brier skill "
        "against the observed share of windows with a seizure (SeFEF's definition); BSS MA: against the 90-day "
        "moving average's forecasts. Medium / high: the forecast's hazard at least 1/1.5 / 1.5 times "
        "climatology's. p: ROC AUC against day-shuffled surrogate seizure sets. Intervals: 95 % bootstrap over "
        "patients (pooled) and over weeks (per patient). Pooled AUCs mix patients, so differences in seizure rate "
        "between patients raise them for every forecaster alike.</p>",
        skipped,
        "<h2>Pooled scores</h2>",
        table(["horizon", "forecaster", "AUC", "Brier", "BSS clim", "BSS MA", "sens ≥medium", "TiW ≥medium",
                "sens high", "TiW high", "p", "forecasts"], _pooled_rows(ev, order)),
        f"<h2>Per patient ({html.escape(forecaster)})</h2>", table(patient_header, per_patient),
        "<h2>Reliability</h2>", _reliability(ev, order),
        f"<h2>Risk over time (first {min(MAX_PATIENTS, len(ev.patients))} patients)</h2>",
        _risk_over_time(ev, forecaster),
        "<h2>Cycles found (on the whole history)</h2>", _roses(ev),
        "<p><em>eegmon is research software, not a certified medical device. A forecast is a probability, not a "
        "certainty.</em></p></body></html>",
    ]
    write_text_atomic(path, "\n".join(parts))
