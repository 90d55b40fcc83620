"""Pseudo-prospective evaluation: forecasts issued day by day, each from the past alone.

For each patient, forecasting starts on the first UTC midnight after the ``min_seizures``-th
seizure. At each midnight every forecaster is re-fitted on the seizures before it (the harness
hands it only those: it cannot see the future) and issues a 24-h forecast for the day and 1-h
forecasts for each of its hours. The last, partial day is not forecast.

Scores per patient and pooled over all forecasts of all patients (:mod:`eegmon.forecast.metrics`),
with:

- risk levels against the climatology forecaster's forecast for the same window
  (:func:`eegmon.forecast.risk.risk_codes`), and sensitivity / time in warning at medium and high;
- a p-value against ``n_surrogates`` surrogate seizure sets: the days of the evaluated span are
  shuffled, each day taking another day's seizures (so the number of seizures and their spread
  over days is kept); at 1 h each moved seizure also takes a random hour of its new day. The
  statistic is the ROC AUC of the unchanged forecasts; ``p = (1 + #{AUC_surrogate >= AUC}) /
  (1 + n_surrogates)``;
- 95 % bootstrap intervals: over patients for pooled scores, over weeks for one patient's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import rankdata

from .._logging import progress
from ..errors import EegmonError
from .cycles import DAY
from .forecasters import FORECASTERS, CycleForecaster, make_forecaster
from .markers import HourlyMarker
from .metrics import (
    auc_from_histograms,
    auc_from_ranks,
    brier_score,
    brier_skill_score,
    reliability,
    roc_auc,
    warning_scores,
    window_counts,
)
from .risk import HORIZONS, risk_codes
from .seizures import SeizureHistory

#: Forecasts start after this many seizures of a patient.
MIN_SEIZURES = 10
#: Keys of a horizon's scores in the JSON (CONVENTIONS.md), in order.
SCORE_KEYS = ("auc", "brier", "bss_climatology", "bss_moving_average", "sensitivity_high",
              "time_in_warning_high", "p_value", "n_forecasts")
_N_BINS = 512  # forecast bins for bootstrap and pooled-surrogate AUCs


@dataclass
class Series:
    """One forecaster's forecasts for one patient and horizon, with what happened."""

    starts: np.ndarray
    probability: np.ndarray
    n_seizures: np.ndarray  # onsets in each window


@dataclass
class PatientForecasts:
    """Everything issued for one patient: ``series[forecaster][horizon]``, and the final cycles."""

    history: SeizureHistory
    series: dict[str, dict[str, Series]]
    first_issue: float
    cycles: dict = field(default_factory=dict)


def issue_days(history: SeizureHistory, min_seizures: int = MIN_SEIZURES) -> np.ndarray:
    """Midnights (UTC) at which forecasts are issued: after the ``min_seizures``-th seizure, whole days."""
    if history.onsets.size <= min_seizures:
        return np.empty(0)
    first = math.floor(history.onsets[min_seizures - 1] / DAY) * DAY + DAY
    last = math.floor(history.stop / DAY) * DAY - DAY  # the last day that ends inside the span
    return first + DAY * np.arange(max(int(round((last - first) / DAY)) + 1, 0))


def forecast_patient(history: SeizureHistory, forecasters: Sequence[str] = tuple(FORECASTERS),
                     horizons: Sequence[str] = ("24h", "1h"), min_seizures: int = MIN_SEIZURES,
                     marker: HourlyMarker | None = None) -> PatientForecasts:
    """Issue one patient's pseudo-prospective forecasts (every forecaster, every horizon).

    ``marker`` is the patient's hourly cycle marker, for the cycle model.
    """
    days = issue_days(history, min_seizures)
    names = dict.fromkeys(["climatology", "moving_average", *forecasters])
    models = {name: make_forecaster(name, marker) for name in names}
    probs: dict[str, dict[str, list[np.ndarray]]] = {m: {h: [] for h in horizons} for m in models}
    # window starts within a day, per horizon (one 24-h window, or 24 hours)
    offsets = {h: HORIZONS[h] * np.arange(int(DAY // HORIZONS[h])) for h in horizons}
    onsets = history.onsets
    for day in days:
        # the only seizures a forecaster ever sees are those before the issue time
        past = onsets[: np.searchsorted(onsets, day)]
        for name, model in models.items():
            model.fit(past, until=day, start=history.start)
            for h in horizons:
                probs[name][h].append(model.predict(day + offsets[h], HORIZONS[h]))
    starts = {h: (days[:, None] + offsets[h][None, :]).ravel() for h in horizons}
    series = {name: {h: Series(starts[h], np.concatenate(probs[name][h]) if days.size else np.empty(0),
                               window_counts(onsets, starts[h], HORIZONS[h]))
                     for h in horizons} for name in models}
    return PatientForecasts(history, series, float(days[0]) if days.size else math.nan,
                            cycles_found(history, marker))


def cycles_found(history: SeizureHistory, marker: HourlyMarker | None = None) -> dict:
    """The cycles the cycle model finds in the whole history (for reports and the CLI's summary)."""
    final = CycleForecaster(marker=marker).fit(history.onsets, until=history.stop, start=history.start)
    return {"period_days": final.period_days_, "period_source": final.period_source_,
            "multiday_r": final.multiday_r_, "circadian": final.circadian_, "circadian_r": final.circadian_r_}


# ---------------------------------------------------------------------- scores
def _surrogate_outcomes(counts: np.ndarray, horizon: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, windows) outcomes of ``n`` day-shuffled surrogate seizure sets (see the module docstring)."""
    per_day = int(DAY // HORIZONS[horizon])
    daily = counts.reshape(-1, per_day)
    n_days = daily.shape[0]
    out = np.zeros((n, daily.size), dtype=bool)
    totals = daily.sum(axis=1)
    for s in range(n):
        perm = rng.permutation(n_days)
        if per_day == 1:
            out[s] = totals[perm] > 0
        else:
            moved = np.repeat(np.arange(n_days), totals[perm])
            out[s, moved * per_day + rng.integers(0, per_day, moved.size)] = True
    return out


@dataclass
class _Stats:
    """Per-group sums that scores and their bootstrap are made of (a group: a patient or a week)."""

    sq: np.ndarray          # sum of (p - y)^2
    sq_ma: np.ndarray       # same for the moving average
    n: np.ndarray           # forecasts
    pos: np.ndarray         # windows with a seizure
    hist_pos: np.ndarray    # (groups, bins) forecast histogram of windows with a seizure
    hist_neg: np.ndarray


def _group_stats(p, p_ma, y, groups, edges) -> _Stats:
    n_groups = int(groups.max()) + 1 if groups.size else 0
    bins = _bin(p, edges)
    flat = groups * (edges.size - 1) + bins
    size = n_groups * (edges.size - 1)
    hist_pos = np.bincount(flat[y], minlength=size).reshape(n_groups, -1)
    hist_all = np.bincount(flat, minlength=size).reshape(n_groups, -1)
    return _Stats(np.bincount(groups, (p - y) ** 2, n_groups), np.bincount(groups, (p_ma - y) ** 2, n_groups),
                  np.bincount(groups, minlength=n_groups).astype(float), np.bincount(groups, y, n_groups),
                  hist_pos.astype(float), (hist_all - hist_pos).astype(float))


def _bootstrap(stats: _Stats, n_boot: int, rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    """95 % percentile intervals of AUC, Brier score and both skill scores over resampled groups."""
    k = stats.n.size
    if k < 2 or n_boot == 0:
        return {}
    w = rng.multinomial(k, np.full(k, 1.0 / k), size=n_boot).astype(float)
    n, pos = w @ stats.n, w @ stats.pos
    bs = (w @ stats.sq) / n
    ybar = pos / n
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {"auc": auc_from_histograms(w @ stats.hist_pos, w @ stats.hist_neg), "brier": bs,
                  "bss_climatology": 1 - bs / (ybar * (1 - ybar)),
                  "bss_moving_average": 1 - (w @ stats.sq) / (w @ stats.sq_ma)}
    return {key: (float(np.nanpercentile(v, 2.5)), float(np.nanpercentile(v, 97.5))) for key, v in values.items()}


@dataclass
class Scores:
    """Scores of one forecaster at one horizon (one patient or pooled)."""

    values: dict[str, float]
    ci: dict[str, tuple[float, float]]
    sensitivity_medium: float
    time_in_warning_medium: float
    time_in_low: float
    reliability: tuple[np.ndarray, np.ndarray, np.ndarray]

    def as_json(self) -> dict:
        """The CONVENTIONS.md keys, NaN as null."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.values.items()}


def _scores(p, p_ma, p_clim, counts, surrogate_aucs, stats: _Stats, n_boot, rng) -> Scores:
    y = counts > 0
    levels = risk_codes(p, p_clim)
    sens_hi, tiw_hi = warning_scores(levels, counts, 2)
    sens_med, tiw_med = warning_scores(levels, counts, 1)
    auc = roc_auc(p, y)
    if surrogate_aucs.size and not math.isnan(auc):
        p_value = float((1 + np.sum(surrogate_aucs >= auc)) / (1 + surrogate_aucs.size))
    else:
        p_value = float("nan")
    values = {"auc": auc, "brier": brier_score(p, y), "bss_climatology": brier_skill_score(p, y),
              "bss_moving_average": brier_skill_score(p, y, p_ma), "sensitivity_high": sens_hi,
              "time_in_warning_high": tiw_hi, "p_value": p_value, "n_forecasts": int(p.size)}
    return Scores(values, _bootstrap(stats, n_boot, rng), sens_med, tiw_med, float(np.mean(levels == 0)) if
                  levels.size else math.nan, reliability(p, y))


@dataclass
class Evaluation:
    """A pseudo-prospective evaluation of several forecasters over several patients."""

    patients: list[PatientForecasts]
    skipped: list[tuple[str, int]]
    forecasters: tuple[str, ...]
    horizons: tuple[str, ...]
    pooled: dict[str, dict[str, Scores]]
    per_patient: list[dict[str, dict[str, Scores]]]

    def to_json(self, forecaster: str = "cycles") -> dict:
        """The ``eegmon forecast --evaluate --json`` document (CONVENTIONS.md) for ``forecaster``."""
        baselines = [f for f in self.forecasters if f != forecaster]
        return {
            "forecaster": forecaster,
            "patients": len(self.patients),
            "horizons": {h: self.pooled[forecaster][h].as_json() for h in self.horizons},
            "baselines": {b: {h: self.pooled[b][h].as_json() for h in self.horizons} for b in baselines},
            "per_patient": [{"patient": pf.history.patient, "n_seizures": int(pf.history.onsets.size),
                             "horizons": {h: scores[forecaster][h].as_json() for h in self.horizons}}
                            for pf, scores in zip(self.patients, self.per_patient, strict=True)],
        }


def _forecast_one(args) -> PatientForecasts:
    return forecast_patient(*args)


def evaluate(histories: Sequence[SeizureHistory], forecasters: Sequence[str] = tuple(FORECASTERS),
             horizons: Sequence[str] = ("24h", "1h"), *, min_seizures: int = MIN_SEIZURES, n_surrogates: int = 200,
             n_boot: int = 1000, patient_ci: bool = False, seed: int = 0, n_jobs: int = 1,
             quiet: bool = True, markers: Mapping[str, HourlyMarker] | None = None) -> Evaluation:
    """Evaluate forecasters pseudo-prospectively on each patient and pooled.

    Parameters
    ----------
    histories : sequence of SeizureHistory
        One per patient. Patients with ``min_seizures`` seizures or fewer are skipped.
    forecasters : sequence of str
        Names in :data:`~eegmon.forecast.forecasters.FORECASTERS`; climatology and the moving
        average are always evaluated too (they are the references).
    horizons : sequence of str
        Keys of :data:`~eegmon.forecast.risk.HORIZONS`.
    min_seizures : int
        Seizures before the first forecast.
    n_surrogates : int
        Surrogate seizure sets for each p-value (>= 100 recommended).
    n_boot : int
        Bootstrap resamples for the intervals.
    patient_ci : bool
        Also give each patient's scores intervals (a bootstrap over weeks; off by default, as
        for a large cohort it costs more than the evaluation).
    seed : int
        Seed of the surrogates and the bootstrap.
    n_jobs : int
        Worker processes for issuing the forecasts (patients are independent).
    quiet : bool
        No progress bar (one is shown on a terminal otherwise).
    markers : mapping | None
        Hourly cycle markers by patient name, for the cycle model.

    Returns
    -------
    Evaluation
    """
    for h in horizons:
        if h not in HORIZONS:
            raise EegmonError(f"unknown horizon {h!r}: expected one of {', '.join(HORIZONS)}.")
    forecasters = tuple(dict.fromkeys([*forecasters, "climatology", "moving_average"]))
    for f in forecasters:
        make_forecaster(f)
    ok = [h for h in histories if h.onsets.size > min_seizures and issue_days(h, min_seizures).size]
    skipped = [(h.patient, int(h.onsets.size)) for h in histories if h not in ok]
    if not ok:
        raise EegmonError(f"no patient has more than {min_seizures} seizures followed by a whole day: nothing to "
                          "forecast.")
    jobs = [(h, forecasters, tuple(horizons), min_seizures, (markers or {}).get(h.patient)) for h in ok]
    bar = {"total": len(jobs), "desc": "forecasting", "unit": "patient", "quiet": quiet}
    if n_jobs > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            chunk = max(1, len(jobs) // (4 * n_jobs))
            patients = list(progress(pool.map(_forecast_one, jobs, chunksize=chunk), **bar))
    else:
        patients = [_forecast_one(job) for job in progress(jobs, **bar)]
    return _score(patients, skipped, forecasters, tuple(horizons), n_surrogates, n_boot, patient_ci, seed)


def _score(patients, skipped, forecasters, horizons, n_surrogates, n_boot, patient_ci, seed) -> Evaluation:
    per_patient: list[dict[str, dict[str, Scores]]] = [{f: {} for f in forecasters} for _ in patients]
    pooled: dict[str, dict[str, Scores]] = {f: {} for f in forecasters}
    for h in horizons:
        p_all = {f: np.concatenate([pf.series[f][h].probability for pf in patients]) for f in forecasters}
        edges = {}
        for f, p in p_all.items():
            edges[f] = np.append(np.unique(np.quantile(p, np.linspace(0, 1, _N_BINS + 1))), np.inf)
        sur_pos = {f: np.zeros((n_surrogates, edges[f].size - 1)) for f in forecasters}
        for i, pf in enumerate(patients):
            counts = pf.series["climatology"][h].n_seizures
            # one surrogate set per patient and horizon, shared by every forecaster (paired comparisons)
            sur = _surrogate_outcomes(counts, h, n_surrogates, np.random.default_rng([seed, i, len(h)]))
            p_ma, p_clim = pf.series["moving_average"][h].probability, pf.series["climatology"][h].probability
            weeks = np.arange(counts.size) // (7 * int(DAY // HORIZONS[h]))
            rows, cols = np.nonzero(sur)
            sur_float = sur.astype(float)
            for f in forecasters:
                p = pf.series[f][h].probability
                stats = _group_stats(p, p_ma, counts > 0, weeks, edges[f])
                aucs = auc_from_ranks(rankdata(p), sur_float) if n_surrogates else np.empty(0)
                per_patient[i][f][h] = _scores(p, p_ma, p_clim, counts, aucs, stats, n_boot if patient_ci else 0,
                                               np.random.default_rng([seed, i, 7]))
                n_bins = edges[f].size - 1
                sur_pos[f] += np.bincount(rows * n_bins + _bin(p, edges[f])[cols],
                                          minlength=n_surrogates * n_bins).reshape(n_surrogates, n_bins)
        p_ma_all, p_clim_all = p_all["moving_average"], p_all["climatology"]
        c_all = np.concatenate([pf.series["climatology"][h].n_seizures for pf in patients])
        groups = np.repeat(np.arange(len(patients)), [pf.series["climatology"][h].n_seizures.size for pf in patients])
        for f in forecasters:
            stats = _group_stats(p_all[f], p_ma_all, c_all > 0, groups, edges[f])
            scores = _scores(p_all[f], p_ma_all, p_clim_all, c_all, np.empty(0), stats, n_boot,
                             np.random.default_rng([seed, 99]))
            if n_surrogates:
                # pooled AUCs from forecast histograms, the observed one too: like for like with its surrogates
                total = stats.hist_pos.sum(axis=0) + stats.hist_neg.sum(axis=0)
                sur_aucs = auc_from_histograms(sur_pos[f], total - sur_pos[f])
                binned = float(auc_from_histograms(stats.hist_pos.sum(axis=0), stats.hist_neg.sum(axis=0)))
                scores.values["p_value"] = float((1 + np.sum(sur_aucs >= binned)) / (1 + n_surrogates))
            pooled[f][h] = scores
    return Evaluation(patients, skipped, forecasters, horizons, pooled, per_patient)


def _bin(p: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
