"""``eegmon forecast`` as a user runs it: simulated diaries, an archive, the report, alerts, bad input."""

from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest

from eegmon.archive import Archive
from eegmon.cli import main
from eegmon.events import Annotation
from eegmon.forecast.evaluation import SCORE_KEYS
from eegmon.forecast.store import stored_forecasts

DAY = 86400.0
START = 1_735_689_600.0  # 2025-01-01T00:00Z


@pytest.fixture(scope="module")
def diaries(tmp_path_factory):
    out = tmp_path_factory.mktemp("fc") / "diaries"
    assert main(["simulate", str(out), "--timings-only", "--days", "200", "--subjects", "3", "--seed", "2",
                 "--seizures-per-day", "1.5", "-q"]) == 0
    return out


@pytest.fixture()
def archive(tmp_path):
    """An archive spanning 40 days (two short segments) with 25 confirmed detections, 5 rejected, 5 unreviewed."""
    path = tmp_path / "patient.h5"
    rng = np.random.default_rng(0)
    with Archive.create(path, ("T1",), 64.0) as arc:
        for day in (0, 40):
            arc.append_segment(START + day * DAY, rng.integers(-100, 100, (1, 64 * 60)).astype(np.int16),
                               [0.1], [0.0])
        onsets = np.sort(rng.uniform(START + 60, START + 40 * DAY, 35))
        ids = arc.add_detections([Annotation(float(t), 30.0, "sz", source="detector:classifier") for t in onsets])
        for i in ids[:25]:
            arc.update_detection(i, reviewer="dr-a", status="confirmed")
        for i in ids[25:30]:
            arc.update_detection(i, reviewer="dr-a", status="rejected")
    return path


def test_forecast_prints_levels_for_the_next_day_and_hours(diaries, capsys):
    assert main(["forecast", str(diaries / "sub-01"), "--timezone", "Europe/Paris"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"next 24 h from \d{4}-\d\d-\d\d \d\d:\d\d CES?T: (LOW|MEDIUM|HIGH) +\d+\.\d %", out)
    hours = re.findall(r"^\s+\d\d-\d\d \d\d:00  (low|medium|high) +\d+\.\d %", out, flags=re.M)
    assert len(hours) == 24
    assert "research software" in out
    assert main(["forecast", str(diaries / "sub-01"), "--horizon", "1h"]) == 0
    assert "next 24 h" not in capsys.readouterr().out


def test_evaluate_writes_the_conventions_json_and_a_report(diaries, tmp_path, capsys):
    js, report = tmp_path / "fc.json", tmp_path / "fc.html"
    assert main(["forecast", str(diaries), "--evaluate", "--surrogates", "20", "--json", str(js),
                 "--report", str(report), "-q"]) == 0
    out = capsys.readouterr().out
    assert "pseudo-prospective evaluation: 3 patient(s)" in out
    assert out.count("cycles") >= 2 and "time_of_day" in out
    doc = json.loads(js.read_text())
    assert doc["forecaster"] == "cycles" and doc["patients"] == 3
    assert list(doc["horizons"]["24h"]) == list(SCORE_KEYS)
    assert [p["patient"] for p in doc["per_patient"]] == ["sub-01", "sub-02", "sub-03"]
    html = report.read_text()
    assert html.count("<img src=\"data:image/png;base64,") == 3
    assert "Reliability" in html and "Cycles found" in html and "not a certified medical device" in html


def test_an_archive_gets_its_forecasts_stored_from_confirmed_detections(archive, capsys):
    assert main(["forecast", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "25 seizures over 40.0 days" in out and "confirmed detections" in out
    with Archive.open(archive) as arc:
        day, hours = stored_forecasts(arc, "24h"), stored_forecasts(arc, "1h")
        stop = arc.stop
    assert len(hours) == 24 * (len(day) - 1) + 24  # the past days' hours, then the next 24
    assert day[-1].start == pytest.approx(np.floor(stop / 3600) * 3600)
    assert all(f.forecaster == "cycles" and 0 < f.probability < 1 for f in day + hours)
    assert [f.start for f in day] == sorted(f.start for f in day)
    # running again replaces, never appends
    assert main(["forecast", str(archive), "--include-unreviewed", "-q"]) == 0
    assert "30 seizures" in capsys.readouterr().out
    with Archive.open(archive) as arc:
        assert len(stored_forecasts(arc, "24h")) == len(day)
    assert main(["forecast", str(archive), "--no-store", "--ground-truth"]) == 2  # no annotations: too few


def test_alerts_send_the_day_forecast_once_to_contacts_who_opted_in(archive, tmp_path, capsys):
    policy = tmp_path / "alerts.toml"
    policy.write_text('[[contacts]]\nname = "parent"\nchannels = ["console://"]\ndaily_forecast = true\n'
                      '[[contacts]]\nname = "neighbour"\nchannels = ["console://"]\n')
    outbox = tmp_path / "outbox.sqlite"
    # a message is only queued for a window that has not ended yet, by the outbox's clock
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    args = ["forecast", str(archive), "--no-store", "--alerts", str(policy), "--outbox", str(outbox), "--now", now]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("[FORECAST] Seizure risk today:") == 1  # the parent only
    assert "forecast message: 1 queued, 1 sent now" in out
    assert main(args) == 0
    assert "forecast message: 0 queued" in capsys.readouterr().out


@pytest.mark.parametrize("extra, message", [
    (["--json", "x.json"], "--json only go with --evaluate"),
    (["--evaluate", "--horizon", "1h"], "--horizon does not go with --evaluate"),
    (["--forecaster", "prophet"], "'--forecaster'"),
    (["--outbox", "x.sqlite"], "--outbox goes with --alerts"),
    (["--now", "yesterday"], "--now: bad time"),
    (["--evaluate", "--surrogates", "-3"], "--surrogates"),
])
def test_bad_usage_is_one_line_and_exit_2(diaries, extra, message, capsys):
    assert main(["forecast", str(diaries / "sub-01"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_bad_sources_name_the_file(tmp_path, capsys):
    assert main(["forecast", str(tmp_path / "nothing.h5")]) == 2
    assert "nothing.h5: no such file or folder" in capsys.readouterr().err
    diary = tmp_path / "diary.csv"
    diary.write_text("date,time\n2025-01-03,07:15\n")
    assert main(["forecast", str(diary)]) == 2
    err = capsys.readouterr().err.strip()
    assert "diary.csv" in err and "time zone" in err and "\n" not in err
    rows = "\n".join(f"2025-01-{d:02d},07:15" for d in range(1, 8))
    diary.write_text(f"date,time\n{rows}\n")
    assert main(["forecast", str(diary), "--timezone", "Europe/Paris"]) == 2
    assert "no patient has more than 7" in capsys.readouterr().err


def test_marker_from_the_archive_and_its_errors(archive, diaries, capsys):
    assert main(["forecast", str(archive), "--marker", "detections", "--no-store"]) == 0
    assert "multi-day" in capsys.readouterr().out
    assert main(["forecast", str(archive), "--marker", "line_length"]) == 2
    assert "no window feature 'line_length'" in capsys.readouterr().err
    assert main(["forecast", str(diaries / "sub-01"), "--marker", "detections"]) == 2
    assert "SRC holds no archive" in capsys.readouterr().err
