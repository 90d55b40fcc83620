"""The monthly report: its numbers on a constructed archive, the PDF rendered back to pages, the CLI.

The archive is built by hand (1 Hz, zeros: the report reads events and coverage, not samples),
so every number of the report is known in advance: local days in Europe/Paris (UTC+1 in
January), seizures seen by two detectors counted once, a diary with one entry matching and one
without an EEG seizure, a gap in the recording.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.archive import Archive
from eegmon.archive.review import decide, review_items
from eegmon.cli import main
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.report import report_numbers, write_report

PARIS = dt.timezone(dt.timedelta(hours=1))  # Europe/Paris in January
T0 = dt.datetime(2025, 1, 10, tzinfo=dt.UTC).timestamp()
DAY = 86400.0


def _at(day: int, hour: float) -> float:
    """Jan ``day`` at ``hour`` Paris time, as UTC seconds."""
    return dt.datetime(2025, 1, day, tzinfo=PARIS).timestamp() + hour * 3600


def _make(path, *, days: float = 10.0, gap: tuple[float, float] | None = (3 * DAY, 3 * DAY + 7200)) -> Archive:
    arc = Archive.create(path, ["E1-E2"], 1.0)
    pieces = [(0.0, days * DAY)] if gap is None else [(0.0, gap[0]), (gap[1], days * DAY)]
    for a, b in pieces:
        arc.append_segment(T0 + a, np.zeros((1, int(b - a)), dtype=np.int16), [0.1], [0.0])
    return arc


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """Three confirmed seizures (one seen by both detectors, one only annotated and confirmed, one at 00:30
    Paris on Jan 15 = 23:30 UTC on Jan 14), two rejected line-length detections, one unreviewed, a diary."""
    path = tmp_path_factory.mktemp("report") / "p.h5"
    with _make(path) as arc:
        det = [Annotation(_at(11, 3.0), 60, "sz", confidence=0.9, source="detector:classifier"),
               Annotation(_at(11, 3.0) + 10, 40, "sz", confidence=0.7, source="detector:line-length"),
               Annotation(_at(15, 0.5), 90, "sz", confidence=0.95, source="detector:classifier"),
               Annotation(_at(12, 14.0), 20, "sz", confidence=0.6, source="detector:line-length"),
               Annotation(_at(16, 9.0), 20, "sz", confidence=0.6, source="detector:line-length"),
               Annotation(_at(17, 20.0), 30, "sz", confidence=0.8, source="detector:classifier")]
        ann = [Annotation(_at(11, 3.0) - 5, 70, "sz"), Annotation(_at(13, 22.25), 45, "sz_foc_ia"),
               Annotation(_at(11, 3.5), 0.0, "sz", source="diary"),   # 30 min late: the same seizure
               Annotation(_at(18, 12.0), 0.0, "sz", source="diary"),  # nothing in the EEG
               Annotation(_at(14, 8.0), 600, "musc")]                  # not a seizure: not counted
        arc.add_detections(det)
        arc.add_annotations(ann)
        for item in review_items(arc):
            if not item.is_seizure or "diary" in item.sources and len(item.members) == 1:
                continue
            onset_local = dt.datetime.fromtimestamp(item.onset, PARIS)
            if (onset_local.day, onset_local.hour) in ((11, 2), (15, 0), (13, 22)):
                decide(arc, item, "dr.a", status="confirmed")
            elif item.found_by == ("line-length",):
                decide(arc, item, "dr.b", status="rejected")
    return path


def test_numbers_count_each_seizure_once_in_local_days(reviewed):
    with Archive.open(reviewed) as arc:
        n = report_numbers(arc, "2025-01", time_zone="Europe/Paris")
    assert n["month"] == "2025-01" and n["title"] == "January 2025" and n["span"]["days"] == 31
    sz = n["seizures"]
    assert (sz["confirmed"], sz["rejected"], sz["unreviewed"]) == (3, 2, 1)
    per_day = {r["day"]: (r["confirmed"], r["unreviewed"]) for r in sz["per_day"]}
    assert per_day["2025-01-11"] == (1, 0) and per_day["2025-01-13"] == (1, 0)
    assert per_day["2025-01-15"] == (1, 0) and per_day["2025-01-14"] == (0, 0)  # 23:30 UTC is 00:30 in Paris
    assert per_day["2025-01-17"] == (0, 1) and sum(c + u for c, u in per_day.values()) == 4
    assert sz["by_hour"][2] == 1 and sz["by_hour"][0] == 1 and sz["by_hour"][22] == 1 and sum(sz["by_hour"]) == 3
    assert sorted(sz["durations_s"]["values"]) == [45.0, 70.0, 90.0] and sz["durations_s"]["median"] == 70.0
    assert n["review"] == {"items": 6, "reviewed": 5, "fraction": round(5 / 6, 4), "reviewers": {"dr.a": 3, "dr.b": 2}}
    by = {d["detector"]: d for d in n["detectors"]}
    assert (by["classifier"]["found"], by["classifier"]["confirmed"], by["classifier"]["rejected"]) == (3, 2, 0)
    assert by["classifier"]["sensitivity"] == round(2 / 3, 4) and by["classifier"]["precision"] == 1.0
    assert (by["line-length"]["found"], by["line-length"]["confirmed"], by["line-length"]["rejected"]) == (3, 1, 2)
    hours = n["coverage"]["recorded_hours"]
    assert hours == pytest.approx(10 * 24 - 2, abs=1e-3) and n["coverage"]["gaps"] == 1
    assert by["line-length"]["fp_per_24h"] == pytest.approx(2 / hours * 24, abs=1e-3)
    days = {r["day"]: r["hours"] for r in n["coverage"]["per_day"]}
    assert days["2025-01-10"] == pytest.approx(23.0) and days["2025-01-20"] == pytest.approx(1.0)  # Paris days
    assert days["2025-01-13"] == pytest.approx(22.0) and days["2025-01-05"] == 0.0
    diary = n["diary"]
    assert (diary["entries"], diary["matched"], diary["unnoticed"], diary["without_eeg"]) == (2, 1, 2, 1)
    assert diary["without_eeg_onsets"] == ["2025-01-18T12:00+01:00"]
    assert n["cycle"]["period_days"] is None and n["cycle"]["seizures"] == 3


def test_a_diary_file_adds_entries(reviewed):
    with Archive.open(reviewed) as arc:
        n = report_numbers(arc, "2025-01", time_zone="Europe/Paris", diary=[_at(13, 22.5), _at(2, 1.0)])
    # one more match (the annotated seizure of the 13th); an entry before the recording cannot be compared
    d = n["diary"]
    assert (d["entries"], d["not_recorded"], d["matched"], d["unnoticed"]) == (3, 1, 2, 1)


def test_a_multi_day_cycle_is_found_and_plotted(tmp_path):
    with _make(tmp_path / "c.h5", days=70.0, gap=None) as arc:
        rng = np.random.default_rng(0)
        onsets = [T0 + 7 * DAY * k + 2 * DAY + rng.normal(0, 3 * 3600) for k in range(10)]
        arc.add_detections([Annotation(t, 60, "sz", confidence=0.9, source="detector:classifier") for t in onsets])
        for item in review_items(arc):
            decide(arc, item, "dr.a", status="confirmed")
        n = report_numbers(arc, "2025-02", time_zone="UTC")
        pdf = write_report(n, tmp_path / "c.pdf")
    cyc = n["cycle"]
    assert cyc["period_days"] == pytest.approx(7.0, abs=0.3) and cyc["p"] < 0.05 and len(cyc["phases"]) == 10
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-f", "2", "-l", "2", str(pdf), "-"], capture_output=True,
                              text=True, check=True).stdout
        assert "Multi-day cycle: 7.0 days" in text or "Multi-day cycle: 6.9 days" in text or \
            "Multi-day cycle: 7.1 days" in text


@pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm) is not installed")
def test_the_pdf_renders_three_pages_that_say_the_numbers(reviewed, tmp_path):
    import matplotlib.image

    with Archive.open(reviewed) as arc:
        n = report_numbers(arc, "2025-01", time_zone="Europe/Paris")
    pdf = write_report(n, tmp_path / "r.pdf", json_path=tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text()) == json.loads(json.dumps(n))
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3
    for page in pages:
        img = matplotlib.image.imread(page)
        assert img.shape[0] > img.shape[1]  # A4 portrait
        assert (img[..., :3].mean(axis=2) < 0.9).mean() > 0.01  # something is drawn
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for words in ("January 2025: the month at a glance", "Confirmed seizures: 3", "Seizures per day",
                  "times in Europe/Paris", "Time of day", "No multi-day cycle", "classifier", "line-length",
                  "Diary entries with no EEG seizure: 1", "01-18 12:00", "research software"):
        assert words in text, words


def test_html_report_holds_the_pages_and_the_numbers(reviewed, tmp_path):
    with Archive.open(reviewed) as arc:
        n = report_numbers(arc, "2025-01", time_zone="Europe/Paris")
    page = write_report(n, tmp_path / "r.html").read_text()
    assert page.count("data:image/png;base64,") == 3 and "January 2025" in page and "&quot;confirmed&quot;: 3" in page
    assert not list(tmp_path.glob("*.tmp*"))


@settings(max_examples=20, deadline=None)
@given(zone=st.sampled_from(["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"]))
def test_per_day_hours_add_up_to_the_recording_in_any_zone(reviewed, zone):
    with Archive.open(reviewed) as arc:
        n = report_numbers(arc, "2025-01", time_zone=zone)
    assert sum(r["hours"] for r in n["coverage"]["per_day"]) == pytest.approx(n["coverage"]["recorded_hours"], abs=1e-2)
    assert n["coverage"]["recorded_hours"] == pytest.approx(238.0, abs=1e-2)


def test_refusals_are_one_line(reviewed, tmp_path):
    with Archive.open(reviewed) as arc:
        for month, why in (("2025-13", "--month must be YYYY-MM"), ("Jan", "--month must be YYYY-MM"),
                           ("2024-06", "nothing in 2024-06: it runs from 2025-01-10 to 2025-01-19")):
            with pytest.raises(EegmonError, match=why):
                report_numbers(arc, month)
        with pytest.raises(EegmonError, match="IANA time zone"):
            report_numbers(arc, "2025-01", time_zone="Mars/Olympus")
        n = report_numbers(arc)
        assert n["month"] == "2025-01"  # default: the recording's last month
    with pytest.raises(EegmonError, match=r"must end in \.pdf or \.html"):
        write_report(n, tmp_path / "r.docx")
    with pytest.raises(EegmonError, match="folder to write the report into does not exist"):
        write_report(n, tmp_path / "missing" / "r.pdf")


def test_cli(reviewed, tmp_path, capsys):
    out = tmp_path / "r.pdf"
    assert main(["report", str(reviewed), "-o", str(out), "--month", "2025-01", "--time-zone", "Europe/Paris",
                 "--json", str(tmp_path / "r.json")]) == 0
    said = capsys.readouterr().out
    assert "January 2025: 3 confirmed seizure(s), 1 unreviewed" in said and out.read_bytes()[:5] == b"%PDF-"
    assert main(["report", str(reviewed), "-o", str(out), "--month", "2025-13"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--month must be YYYY-MM" in err
    assert main(["report", str(tmp_path / "none.h5"), "-o", str(out)]) == 2
    assert "no such archive" in capsys.readouterr().err
