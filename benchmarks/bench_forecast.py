"""Seizure forecasting (``eegmon.forecast.evaluate``): quality on simulated seizure times, and speed.

Data: seizure times only (``eegmon.simulate.timings.simulate_timings``, seed 2027, rate drawn per
patient in 0.15-3 per day), half the patients with circadian and multi-day cycles and clusters
(``cycles_fraction=0.5``), the others homogeneous Poisson processes (nothing to forecast). Simulated
cycles are cleaner than real diaries: these figures say nothing about real patients.

Quality (full: 20 patients x 365 days; ``--quick``: 8 x 365): a pseudo-prospective evaluation
(``evaluate``: daily re-fit on the past only, 200 surrogates, 1000 bootstrap resamples over
patients) of every forecaster at 24 h and 1 h, pooled over all forecasts of all patients. Rows
``[<group>_]<metric>_<horizon>_vs_<baseline>``: the cycle model (``cycles``) in the eegmon column,
the baseline (``climatology``, ``moving_average``, ``time_of_day``) in the reference column, for
``auc``, ``brier``, ``bss_climatology`` (Brier skill against the observed share of windows with a
seizure over all pooled windows as a constant forecast) and ``bss_moving_average`` (against the
90-day moving average's forecasts). Each row's note gives the 95 % bootstrap interval (over
patients) of both values. Groups: all patients (no prefix), then
``cyclers_`` and ``noncyclers_``, each evaluated on its own. Rows with no reference: the number of
patients of each group whose cycle-model forecasts beat their surrogates (p < 0.05) per horizon,
and on the cyclers the number with a multi-day period found and the median relative error
``|found - true| / true`` of the period the cycle model settles on over the whole year.

Ratios (> 1: the cycle model is better): eegmon/reference for AUC and the skill scores,
reference/eegmon for the Brier score. A skill score can be 0 or negative (the moving average
against itself is exactly 0), and a ratio of two signed scores means nothing, so the ratio of a
``bss`` row is null unless both are > 0 (as ``bench_detection.py`` does for latencies <= 0).

Speed: ``evaluate_<n>p_365d`` is the wall time of the whole evaluation of n patients (full: 200,
``--quick``: 40) x 365 days, all four forecasters, both horizons, 200 surrogates, the default
bootstrap, ``n_jobs=2``. No other library does this, so the reference is eegmon's own evaluation
with ``n_jobs=1`` (the ratio is the speed-up from the second worker, not a win over a peer).
One run of each, after the quality rows (which compile the Numba kernels in this process; forked
workers inherit them): a median of 5 would take over 10 minutes in full. Target: under 60 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import _harness

from eegmon.forecast.evaluation import Evaluation, evaluate
from eegmon.forecast.seizures import SeizureHistory
from eegmon.simulate.timings import SubjectTimings, simulate_timings

SEED = 2027
DAYS = 365
HORIZONS = ("24h", "1h")
FORECASTERS = ("cycles", "climatology", "moving_average", "time_of_day")
OURS = "cycles"
BASELINES = ("climatology", "moving_average", "time_of_day")
N_SURROGATES = 200
ALPHA = 0.05
#: metric -> (unit, higher_is_better)
METRICS: dict[str, tuple[str, bool]] = {
    "auc": ("AUC", True), "brier": ("Brier", False), "bss_climatology": ("BSS", True),
    "bss_moving_average": ("BSS", True),
}
SERIAL = "serial (n_jobs=1)"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cohort(subjects: int, days: float = DAYS, seed: int = SEED) -> list[SubjectTimings]:
    """The simulated cohort: ``subjects`` patients, half with cycles."""
    return simulate_timings(days, subjects, seed, cycles_fraction=0.5)


def histories(timings: Sequence[SubjectTimings]) -> list[SeizureHistory]:
    """One :class:`SeizureHistory` per simulated patient (same name, onsets and span)."""
    return [SeizureHistory(t.subject, t.onsets, t.start, t.stop, "simulate_timings") for t in timings]


def run_evaluation(timings: Sequence[SubjectTimings], *, n_surrogates: int = N_SURROGATES, n_jobs: int = 2,
                   n_boot: int = 1000) -> Evaluation:
    """Evaluate every forecaster at both horizons on ``timings`` (pseudo-prospectively)."""
    return evaluate(histories(timings), FORECASTERS, HORIZONS, n_surrogates=n_surrogates, n_boot=n_boot,
                    seed=SEED, n_jobs=n_jobs, quiet=True)


def _ci(scores, key: str) -> str:
    lo_hi = scores.ci.get(key)
    return "-" if lo_hi is None else f"[{lo_hi[0]:.3g}, {lo_hi[1]:.3g}]"


def metric_row(name: str, metric: str, ours: float | None, ref: float | None, ref_name: str | None) -> dict[str, Any]:
    """One quality row (CONVENTIONS.md); the ratio is null where it would mean nothing.

    Parameters
    ----------
    name : str
        Row name.
    metric : str
        A key of :data:`METRICS` (sets the unit and the direction).
    ours, ref : float or None
        The cycle model's value and the baseline's (None or NaN: not available).
    ref_name : str or None
        The baseline's name.

    Returns
    -------
    dict
        The row; ``ratio`` > 1 means the cycle model is better, null for a skill score <= 0.
    """
    unit, hib = METRICS[metric]
    ours, ref = _finite(ours), _finite(ref)
    r = _harness.row(name, unit, ours, ref, ref_name if ref is not None else None, higher_is_better=hib)
    if r["ratio"] is not None and metric.startswith("bss") and min(ours, ref) <= 0:
        r["ratio"] = None  # a ratio of signed skill scores (one of them no better than its reference) means nothing
    return r


def _finite(x: float | None) -> float | None:
    return None if x is None or x != x else float(x)  # NaN (e.g. no seizure at all) as null


def comparison_rows(ev: Evaluation | None, group: str = "") -> list[dict[str, Any]]:
    """The cycle model beside each baseline, per horizon and metric, pooled over ``ev``'s patients.

    ``group`` prefixes the names (``cyclers_``); ``ev`` None (an empty group) gives null rows.
    """
    rows = []
    for h in HORIZONS:
        for metric in METRICS:
            for base in BASELINES:
                ours = None if ev is None else ev.pooled[OURS][h]
                ref = None if ev is None else ev.pooled[base][h]
                r = metric_row(f"{group}{metric}_{h}_vs_{base}", metric,
                               None if ours is None else ours.values[metric],
                               None if ref is None else ref.values[metric], base)
                r["reference_name"] = base  # the baseline is named even where its value is missing
                if ev is not None:
                    r["note"] = (f"{len(ev.patients)} patients; 95% CI {OURS} {_ci(ours, metric)}, "
                                 f"{base} {_ci(ref, metric)}")
                else:
                    r["note"] = "no patient in this group"
                rows.append(r)
    return rows


def significant_count(ev: Evaluation | None, horizon: str) -> int:
    """Patients whose cycle-model forecasts at ``horizon`` beat their surrogates (p < ALPHA)."""
    if ev is None:
        return 0
    # a NaN p-value (no seizure in the forecast span) compares False: not significant
    return sum(1 for scores in ev.per_patient if scores[OURS][horizon].values["p_value"] < ALPHA)


def period_errors(ev: Evaluation | None, timings: Sequence[SubjectTimings]) -> list[float]:
    """``|found - true| / true`` of the multi-day period, for each patient with cycles where one was found."""
    if ev is None:
        return []
    truth = {t.subject: t.multiday_period_days for t in timings}
    out = []
    for pf in ev.patients:
        true, found = truth.get(pf.history.patient), pf.cycles.get("period_days")
        if true is not None and found is not None:
            out.append(abs(found - true) / true)
    return out


def quality_rows(timings: Sequence[SubjectTimings], *, n_surrogates: int = N_SURROGATES, n_jobs: int = 2,
                 n_boot: int = 1000) -> list[dict[str, Any]]:
    """Every quality row on ``timings``: all patients, then those with and without cycles.

    Parameters
    ----------
    timings : sequence of SubjectTimings
        The simulated cohort.
    n_surrogates, n_boot, n_jobs : int
        As for :func:`eegmon.forecast.evaluation.evaluate`.

    Returns
    -------
    list of dict
        Rows in the CONVENTIONS.md format.
    """
    groups = {"": list(timings), "cyclers_": [t for t in timings if t.has_cycles],
              "noncyclers_": [t for t in timings if not t.has_cycles]}
    rows = [_harness.row("cohort_patients", "patients", len(timings)),
            _harness.row("cohort_patients_with_cycles", "patients", len(groups["cyclers_"])),
            _harness.row("cohort_days", "days", float(timings[0].stop - timings[0].start) / 86400.0)]
    evs: dict[str, Evaluation | None] = {}
    for group, members in groups.items():
        t0 = time.perf_counter()
        # each group is evaluated on its own, so its pooled scores are over its patients only
        evs[group] = run_evaluation(members, n_surrogates=n_surrogates, n_jobs=n_jobs, n_boot=n_boot) \
            if members else None
        log(f"quality {group or 'all_'}: {len(members)} patients in {time.perf_counter() - t0:.1f} s")
        rows += comparison_rows(evs[group], group)
    for group in ("cyclers_", "noncyclers_"):
        n = len(groups[group])
        for h in HORIZONS:
            r = _harness.row(f"{group}cycles_p_lt_0.05_{h}", "patients", significant_count(evs[group], h))
            r["note"] = (f"of {n}; per-patient p against {n_surrogates} surrogates" +
                         (f"; ~{ALPHA * n:.1g} expected by chance" if group == "noncyclers_" else ""))
            rows.append(r)
    errors = period_errors(evs["cyclers_"], groups["cyclers_"])
    r = _harness.row("cyclers_period_found", "patients", len(errors))
    r["note"] = f"of {len(groups['cyclers_'])}; multi-day period significant in the fit on the whole span"
    rows.append(r)
    r = _harness.row("cyclers_period_rel_error_median", "fraction", statistics.median(errors) if errors else None)
    r["note"] = "median |found - true| / true over the patients with a period found"
    rows.append(r)
    return rows


def speed_row(subjects: int, *, days: float = DAYS, n_surrogates: int = N_SURROGATES, repeats: int = 1,
              warmup: bool = True) -> dict[str, Any]:
    """Wall time of the whole evaluation of ``subjects`` patients with 2 workers, beside 1 worker.

    Parameters
    ----------
    subjects : int
        Patients in the cohort (simulated like the quality cohort).
    days : float
        Span of each patient.
    n_surrogates : int
        Surrogate sets per p-value.
    repeats : int
        Timed runs of each (interleaved; the median is reported).
    warmup : bool
        Evaluate 4 patients first (both ways). False when this process has already evaluated
        (e.g. the quality rows): the kernels are compiled and forked workers inherit them.

    Returns
    -------
    dict
        A row ``evaluate_<subjects>p_<days>d`` in seconds, reference ``serial (n_jobs=1)``.
    """
    timings = cohort(subjects, days)
    if warmup:  # Numba compilation and imports are not the timed work
        warm = cohort(4, days)
        run_evaluation(warm, n_surrogates=n_surrogates, n_jobs=2)
        run_evaluation(warm, n_surrogates=n_surrogates, n_jobs=1)
    r = _harness.compare(f"evaluate_{subjects}p_{days:g}d", lambda: run_evaluation(timings, n_surrogates=n_surrogates,
                                                                                     n_jobs=2),
                         lambda: run_evaluation(timings, n_surrogates=n_surrogates, n_jobs=1), SERIAL,
                         repeats=repeats, warmup=0)
    warm_by = "a warm-up on 4 patients" if warmup else "the quality rows (warm)"
    r["note"] = (f"4 forecasters, 24h + 1h, {n_surrogates} surrogates, n_jobs=2; median of {repeats} run(s) "
                 f"after {warm_by}; ratio = speed-up over 1 worker")
    return r


def main() -> None:
    args = _harness.parse_args(__doc__)
    t0 = time.perf_counter()
    n_quality, n_speed = (8, 40) if args.quick else (20, 200)
    results = quality_rows(cohort(n_quality))
    log(f"quality rows {time.perf_counter() - t0:.0f} s")
    t1 = time.perf_counter()
    # the quality rows have compiled the kernels in this process (n_jobs=2 forks it): no separate warm-up
    results.append(speed_row(n_speed, warmup=False))
    log(f"speed row {time.perf_counter() - t1:.0f} s; total {time.perf_counter() - t0:.0f} s")
    _harness.finish("forecast", results, args)


if __name__ == "__main__":
    main()
