"""The monthly report's pages as matplotlib figures (Agg: no screen), from :func:`report_numbers`.

Three A4 pages: the month at a glance (seizures per day, signal coverage), patterns (time of
day, durations, multi-day cycle) and the review (progress, each detector against the reviewer,
diary agreement).
"""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np

A4 = (8.27, 11.69)
CONFIRMED, UNREVIEWED = "#b2182b", "#f4a582"  # told apart in grey too (dark / light)
_FOOT = "eegmon monthly report · research software, not a certified medical device"


def _figure(numbers: dict, heading: str):
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4, dpi=100)
    fig.text(0.06, 0.965, f"{numbers['title']}: {heading}", fontsize=15, weight="bold", va="top")
    fig.text(0.06, 0.94, f"{numbers['archive']} · times in {numbers['time_zone']}", fontsize=9, color="0.3", va="top")
    fig.text(0.5, 0.015, _FOOT, fontsize=7, color="0.4", ha="center")
    return fig


def _day_ticks(ax, days: list[str]) -> None:
    step = max(1, len(days) // 8)
    ax.set_xticks(np.arange(len(days))[::step], [dt.date.fromisoformat(d).strftime("%d %b") for d in days][::step])
    ax.set_xlim(-0.6, len(days) - 0.4)


def overview_page(numbers: dict):
    """Page 1: key figures, seizures per day (confirmed / unreviewed) and hours recorded per day."""
    fig = _figure(numbers, "the month at a glance")
    sz, cov, rev = numbers["seizures"], numbers["coverage"], numbers["review"]
    dur = sz["durations_s"]
    durations = (f"   (median duration {dur['median']:.0f} s, {dur['min']:.0f}-{dur['max']:.0f} s)"
                 if sz["confirmed"] else "")
    lines = [
        f"Confirmed seizures: {sz['confirmed']}{durations}",
        f"Detected, not yet reviewed: {sz['unreviewed']}   ·   rejected as not a seizure: {sz['rejected']}",
        f"Review: {rev['reviewed']} of {rev['items']} events reviewed"
        + (f" ({100 * rev['fraction']:.0f} %)" if rev["fraction"] is not None else ""),
        f"Signal recorded: {cov['recorded_hours']:.1f} h of {cov['span_hours']:.1f} h ({100 * cov['fraction']:.0f} %), "
        f"{cov['gaps']} gap(s), the longest {cov['longest_gap_hours']:.1f} h",
    ]
    for i, line in enumerate(lines):
        fig.text(0.06, 0.90 - 0.025 * i, line, fontsize=10.5, va="top")
    days = [r["day"] for r in sz["per_day"]]
    x = np.arange(len(days))
    ax = fig.add_axes((0.09, 0.46, 0.86, 0.30))
    conf = np.array([r["confirmed"] for r in sz["per_day"]])
    unrev = np.array([r["unreviewed"] for r in sz["per_day"]])
    ax.bar(x, conf, color=CONFIRMED, label="confirmed")
    ax.bar(x, unrev, bottom=conf, color=UNREVIEWED, hatch="//", edgecolor="white", label="detected, not reviewed")
    ax.set_ylim(0, max(2, int((conf + unrev).max(initial=0)) + 1))
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_ylabel("seizures")
    ax.set_title("Seizures per day", loc="left", fontsize=11)
    ax.legend(loc="upper right", fontsize=8, frameon=False)
    _day_ticks(ax, days)
    ax2 = fig.add_axes((0.09, 0.10, 0.86, 0.25))
    hours = [r["hours"] for r in cov["per_day"]]
    ax2.bar(x, hours, color="0.55")
    ax2.axhline(24, color="0.2", lw=0.8, ls=":")
    ax2.set_ylim(0, 25)
    ax2.set_yticks([0, 6, 12, 18, 24])
    ax2.set_ylabel("hours recorded")
    ax2.set_title("Signal coverage per day (24 h = the whole day)", loc="left", fontsize=11)
    _day_ticks(ax2, days)
    return fig


def patterns_page(numbers: dict):
    """Page 2: time-of-day rose, seizure durations and the multi-day cycle."""
    fig = _figure(numbers, "patterns")
    sz, cyc = numbers["seizures"], numbers["cycle"]
    rose = fig.add_axes((0.08, 0.50, 0.40, 0.36), projection="polar")
    theta = 2 * np.pi * (np.arange(24) + 0.5) / 24
    rose.bar(theta, sz["by_hour"], width=2 * np.pi / 24 * 0.9, color=CONFIRMED)
    rose.set_theta_zero_location("N")
    rose.set_theta_direction(-1)
    rose.set_xticks(2 * np.pi * np.array([0, 6, 12, 18]) / 24, ["00:00", "06:00", "12:00", "18:00"])
    rose.set_rlabel_position(180 / 24 * 15)  # the count labels between 07:00 and 08:00, off the busy hours
    rose.tick_params(axis="y", labelsize=7, labelcolor="0.35")
    top = max(sz["by_hour"], default=0)
    rose.set_yticks(range(1, top + 1, max(1, top // 4)) if top else [])  # whole seizures
    rose.set_title("Time of day (confirmed seizures)", fontsize=11, pad=18)
    hist = fig.add_axes((0.58, 0.53, 0.37, 0.30))
    values = sz["durations_s"]["values"]
    if values:
        hist.hist(values, bins=min(12, max(3, len(values))), color=CONFIRMED)
        hist.yaxis.get_major_locator().set_params(integer=True)
    else:
        hist.text(0.5, 0.5, "no confirmed seizure", ha="center", va="center", transform=hist.transAxes)
    hist.set_xlabel("duration (s)")
    hist.set_ylabel("seizures")
    hist.set_title("Durations", loc="left", fontsize=11)
    if cyc["period_days"] is not None:
        ax = fig.add_axes((0.08, 0.08, 0.40, 0.32), projection="polar")
        ph = np.array(cyc["phases"]) * 2 * np.pi
        counts, edges = np.histogram(ph, bins=12, range=(0, 2 * np.pi))
        ax.bar(edges[:-1] + np.pi / 12, counts, width=2 * np.pi / 12 * 0.9, color=CONFIRMED)
        ax.set_theta_zero_location("N")
        ax.set_theta_direction(-1)
        ax.set_xticks([])
        ax.set_title(f"Multi-day cycle: {cyc['period_days']:.1f} days", fontsize=11, pad=12)
        text = (f"Seizures cluster on a {cyc['period_days']:.1f}-day cycle (phase locking R = {cyc['r']:.2f}, "
                f"p = {cyc['p']:.3f}, {cyc['seizures']} confirmed seizures over {cyc['history_days']:.0f} days "
                "of recording). Each bar is a twelfth of the cycle.")
    else:
        text = (f"No multi-day cycle: {cyc['seizures']} confirmed seizure(s) over {cyc['history_days']:.0f} days of "
                f"recording show no significant one (a cycle needs at least two whole periods of 5-45 days and "
                f"p < 0.05; best p = {cyc['p']:.2f}).")
    fig.text(0.55, 0.36, text, fontsize=9.5, va="top", wrap=True)
    return fig


def review_page(numbers: dict):
    """Page 3: review progress, each detector against the reviewer, diary agreement."""
    fig = _figure(numbers, "review and detectors")
    rev = numbers["review"]
    ax = fig.add_axes((0.06, 0.84, 0.88, 0.03))
    frac = rev["fraction"] or 0.0
    ax.barh([0], [frac], color="#2166ac")
    ax.barh([0], [1 - frac], left=[frac], color="0.85")
    ax.set_xlim(0, 1)
    ax.set_axis_off()
    who = ", ".join(f"{k} ({v})" for k, v in rev["reviewers"].items()) or "nobody yet"
    fig.text(0.06, 0.905, f"Review progress: {rev['reviewed']} of {rev['items']} events reviewed, by {who}",
             fontsize=10.5, va="top")
    rows = [[d["detector"], str(d["found"]), str(d["confirmed"]), str(d["rejected"]), str(d["unreviewed"]),
             "-" if d["precision"] is None else f"{100 * d['precision']:.0f} %",
             "-" if d["sensitivity"] is None else f"{100 * d['sensitivity']:.0f} %",
             "-" if d["fp_per_24h"] is None else f"{d['fp_per_24h']:.2f}"] for d in numbers["detectors"]]
    fig.text(0.06, 0.79, "Each detector against the reviewer", fontsize=11, va="top")
    table_ax = fig.add_axes((0.06, 0.58, 0.88, 0.19))
    table_ax.set_axis_off()
    if rows:
        table = table_ax.table(cellText=rows, colLabels=["detector", "found", "confirmed", "rejected", "unreviewed",
                                                          "precision", "sensitivity", "false / 24 h"],
                               loc="upper center", cellLoc="center")
        table.auto_set_font_size(False)
        table.set_fontsize(9)
        table.scale(1, 1.4)
    else:
        table_ax.text(0, 0.9, "No detections this month.", fontsize=10)
    fig.text(0.06, 0.555, "Sensitivity: share of the confirmed seizures this detector found; false alarms: the "
                          "events it raised that the reviewer rejected, per 24 h recorded.", fontsize=8.5,
             color="0.3", va="top", wrap=True)
    diary = numbers["diary"]
    fig.text(0.06, 0.48, "Diary and EEG", fontsize=11, va="top")
    if diary is None:
        lines = ["No seizure diary imported for this month."]
    else:
        lines = [f"{diary['entries']} diary entries while recording; {diary['matched']} match an EEG seizure within "
                 f"{diary['tolerance_min']:.0f} min" + (f" ({diary['not_recorded']} more when nothing was recorded)."
                                                        if diary["not_recorded"] else "."),
                 f"Seizures in the EEG the patient did not note: {diary['unnoticed']}"
                 + (f" ({', '.join(t[5:16].replace('T', ' ') for t in diary['unnoticed_onsets'][:6])}"
                    f"{' ...' if diary['unnoticed'] > 6 else ''})" if diary["unnoticed"] else ""),
                 f"Diary entries with no EEG seizure: {diary['without_eeg']}"
                 + (f" ({', '.join(t[5:16].replace('T', ' ') for t in diary['without_eeg_onsets'][:6])}"
                    f"{' ...' if diary['without_eeg'] > 6 else ''})" if diary["without_eeg"] else "")]
    y = 0.45
    for line in lines:
        wrapped = textwrap.wrap(line, 95, subsequent_indent="    ")
        fig.text(0.06, y, "\n".join(wrapped), fontsize=10, va="top", linespacing=1.4)
        y -= 0.022 * len(wrapped) + 0.006
    return fig


PAGES = (overview_page, patterns_page, review_page)
