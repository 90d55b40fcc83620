"""The forecast's inputs: seizure diaries, SzCORE events.tsv, archives, and their checks.

Every test writes real files (diary CSVs, events.tsv, TUSZ .csv_bi, archives) under ``tmp_path``
and reads them back through :mod:`eegmon.forecast.seizures`; expected UTC times are computed
here independently, with ``datetime`` and ``zoneinfo``.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eegmon.archive import Archive
from eegmon.errors import EegmonError
from eegmon.evaluate.dataset import read_annotation
from eegmon.events import Annotation
from eegmon.forecast.seizures import (
    SAME_SEIZURE_S,
    SeizureHistory,
    check_histories,
    from_annotations,
    from_archive,
    load_histories,
    read_diary,
    time_zone,
)
from eegmon.io.events_tsv import write_events_tsv
from eegmon.io.tusz import write_tusz_csv

DAY = 86400.0
UTC = dt.UTC


def utc(*args: int) -> float:
    """A UTC wall-clock time as seconds since the epoch."""
    return dt.datetime(*args, tzinfo=UTC).timestamp()


def local(zone: str, *args: int) -> float:
    """A wall-clock time in ``zone`` (one that exists once) as seconds since the epoch."""
    return dt.datetime(*args, tzinfo=ZoneInfo(zone)).timestamp()


def write(tmp_path: Path, text: str | bytes, name: str = "diary.csv") -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def assert_one_line(err: pytest.ExceptionInfo, path: Path, *fragments: str) -> None:
    """The error is one line, leads with the file, and says each fragment."""
    msg = str(err.value)
    assert "\n" not in msg, msg
    assert msg.startswith(f"{path}: "), msg
    for fragment in fragments:
        assert fragment in msg, (fragment, msg)


# ---------------------------------------------------------------------- diary: valid input
@pytest.mark.parametrize(("zone", "date", "expected_utc"), [
    ("Europe/Paris", (2025, 1, 15), (2025, 1, 15, 6, 15)),       # CET, +1
    ("Europe/Paris", (2025, 7, 15), (2025, 7, 15, 5, 15)),       # CEST, +2
    ("America/New_York", (2025, 1, 15), (2025, 1, 15, 12, 15)),  # EST, -5
    ("America/New_York", (2025, 7, 15), (2025, 7, 15, 11, 15)),  # EDT, -4
    ("Asia/Kathmandu", (2025, 7, 15), (2025, 7, 15, 1, 30)),     # +5:45
    ("UTC", (2025, 7, 15), (2025, 7, 15, 7, 15)),
])
def test_diary_local_times_to_utc(tmp_path, zone, date, expected_utc):
    path = write(tmp_path, f"date,time\n{dt.date(*date).isoformat()},07:15\n")
    h = read_diary(path, timezone=zone)
    assert h.onsets.tolist() == [utc(*expected_utc)]


def test_diary_timezone_column_overrides_the_argument(tmp_path):
    path = write(tmp_path, "date,time,timezone\n"
                           "2025-01-15,07:15,America/New_York\n"
                           "2025-01-16,07:15,\n"            # empty cell: the argument's zone
                           "2025-01-17,07:15,Europe/Paris\n")
    h = read_diary(path, timezone="UTC")
    assert h.onsets.tolist() == [utc(2025, 1, 15, 12, 15), utc(2025, 1, 16, 7, 15), utc(2025, 1, 17, 6, 15)]
    # a column on every row needs no argument
    path = write(tmp_path, "date,time,timezone\n2025-01-15,07:15,America/New_York\n", "col.csv")
    assert read_diary(path).onsets.tolist() == [utc(2025, 1, 15, 12, 15)]


def test_diary_optional_columns_comments_bom_and_layout(tmp_path):
    text = ("\ufeff# exported from the patient's app\n"
            "\n"
            " Date , TIME ,Type,Duration\r\n"
            "2025-03-04,07:15,focal aware,40\r\n"
            "# the night of the 9th\n"
            "   \n"
            '2025-03-09,23:50:30,"tonic-clonic, with fall",\r\n'
            "2025-03-10,08:00,,12.5\n")
    h = read_diary(write(tmp_path, text), timezone="Europe/Paris")
    assert h.onsets.tolist() == [utc(2025, 3, 4, 6, 15), utc(2025, 3, 9, 22, 50, 30), utc(2025, 3, 10, 7, 0)]
    assert h.patient == "diary" and "diary" in h.source
    # only date and time are needed
    h = read_diary(write(tmp_path, "date,time\n2025-03-04,07:15\n", "min.csv"), timezone="UTC", patient="P7")
    assert h.patient == "P7" and h.onsets.tolist() == [utc(2025, 3, 4, 7, 15)]


def test_diary_onsets_sorted_whatever_the_row_order(tmp_path):
    path = write(tmp_path, "date,time\n2025-03-09,23:50\n2025-03-04,07:15\n2025-03-06,12:00\n")
    h = read_diary(path, timezone="UTC")
    assert h.onsets.tolist() == sorted(h.onsets.tolist())
    assert h.onsets.size == 3


def test_diary_span_is_first_local_midnight_to_end_of_last_local_day(tmp_path):
    # rows out of order, and the span crosses the spring-forward change (Paris, 30 March 2025)
    path = write(tmp_path, "date,time\n2025-04-02,23:50\n2025-03-28,00:10\n")
    h = read_diary(path, timezone="Europe/Paris")
    assert h.start == local("Europe/Paris", 2025, 3, 28) == utc(2025, 3, 27, 23)
    assert h.stop == local("Europe/Paris", 2025, 4, 3) == utc(2025, 4, 2, 22)
    assert h.days == pytest.approx(6 - 1 / 24)  # one local day was 23 h long


def test_diary_span_end_uses_the_rows_own_time_zone(tmp_path):
    # 22:00 in New York is 03:00 UTC the next day; the diary's last day is still the 4th there
    path = write(tmp_path, "date,time,timezone\n2025-03-04,22:00,America/New_York\n")
    h = read_diary(path)
    assert h.onsets.tolist() == [utc(2025, 3, 5, 3)]
    assert h.start == local("America/New_York", 2025, 3, 4)
    assert h.stop == local("America/New_York", 2025, 3, 5)


def test_diary_stop(tmp_path):
    path = write(tmp_path, "date,time\n2025-03-04,07:15\n")
    stop = utc(2025, 6, 1)
    h = read_diary(path, timezone="UTC", stop=stop)
    assert (h.start, h.stop) == (utc(2025, 3, 4), stop)
    with pytest.raises(EegmonError) as err:
        read_diary(path, timezone="UTC", stop=utc(2025, 3, 4, 7))
    assert_one_line(err, path, "not after the last seizure", "line 2")


# ---------------------------------------------------------------------- diary: errors
@pytest.mark.parametrize(("text", "lineno", "fragment"), [
    ("date,time\n2025-02-30,07:15\n", 2, "bad date '2025-02-30'"),
    ("date,time\n2025/03/01,07:15\n", 2, "bad date '2025/03/01'"),
    ("date,time\n20250301,07:15\n", 2, "bad date '20250301'"),       # not the documented YYYY-MM-DD
    ("date,time\n2025-W09-6,07:15\n", 2, "bad date"),
    ("date,time\n,07:15\n", 2, "bad date ''"),
    ("date,time\n2025-03-01,25:00\n", 2, "bad time '25:00'"),
    ("date,time\n2025-03-01,7h15\n", 2, "bad time '7h15'"),
    ("date,time\n2025-03-01,07\n", 2, "bad time '07'"),              # an hour alone is not HH:MM
    ("date,time\n2025-03-01,0715\n", 2, "bad time '0715'"),
    ("date,time\n2025-03-01\n", 2, "bad time ''"),
    ("date,time\n2025-03-01,07:15+01:00\n", 2, "carries an offset"),
    ("date,time,timezone\n2025-03-01,07:15,Europe/Pariss\n", 2, "unknown time zone 'Europe/Pariss'"),
    ("date,time\n2025-03-30,02:30\n", 2, "does not exist in Europe/Paris"),  # spring forward
    ("date,time\n2025-10-26,02:30\n", 2, "happens twice in Europe/Paris"),   # fall back
    ("date,time,duration\n2025-03-01,07:15,-5\n", 2, "bad duration '-5'"),
    ("date,time,duration\n2025-03-01,07:15,forty\n", 2, "bad duration 'forty'"),
    ("date,time,duration\n2025-03-01,07:15,nan\n", 2, "bad duration 'nan'"),
    ("date,time,duration\n2025-03-01,07:15,inf\n", 2, "bad duration 'inf'"),
    ("date,time\n2025-03-01,07:15\n# again\n2025-03-01,07:15\n", 4, "the same seizure as line 2"),
    ("day,hour\n2025-03-01,07:15\n", 1, "the header must name the columns date and time"),
    ("date\n2025-03-01\n", 1, "the header must name the columns date and time"),
    ("date,time,type,duration\n2025-03-01,07:15,focal,40,oops\n", 2, "5 fields, but the header names 4"),
    ('date,time,type\n2025-03-01,07:15,"focal\naware"\n', 2, "quoted field"),
    # comments and blank lines still count in line numbers
    ("# my diary\n\ndate,time\n\n# March\n2025-02-30,07:15\n", 6, "bad date"),
])
def test_diary_errors_name_file_line_and_problem(tmp_path, text, lineno, fragment):
    path = write(tmp_path, text)
    with pytest.raises(EegmonError) as err:
        read_diary(path, timezone="Europe/Paris")
    assert_one_line(err, path, f": line {lineno}: ", fragment)


def test_diary_without_time_zone(tmp_path):
    path = write(tmp_path, "date,time\n2025-03-01,07:15\n")
    with pytest.raises(EegmonError) as err:
        read_diary(path)
    assert_one_line(err, path, "line 2: no time zone", "--timezone")


def test_diary_unknown_time_zone_argument_names_the_file(tmp_path):
    path = write(tmp_path, "date,time\n2025-03-01,07:15\n")
    for name in ("Mars/Olympus_Mons", "", "../etc/passwd"):
        with pytest.raises(EegmonError) as err:
            read_diary(path, timezone=name)
        assert_one_line(err, path, f"unknown time zone {name!r}")
    assert time_zone("Asia/Kathmandu").key == "Asia/Kathmandu"


@pytest.mark.parametrize(("content", "fragment"), [
    ("", "the diary is empty"),
    ("\n  \n# only a comment\n", "the diary is empty"),
    ("date,time,type\n", "header but no seizure rows"),
    ("date,time\n# nothing yet\n\n", "header but no seizure rows"),
    (b"date,time\n2025-03-01,07:15,caf\xe9\n", "cannot read the diary"),  # Latin-1, not UTF-8
])
def test_diary_empty_or_unreadable(tmp_path, content, fragment):
    path = write(tmp_path, content)
    with pytest.raises(EegmonError) as err:
        read_diary(path, timezone="UTC")
    assert_one_line(err, path, fragment)


def test_diary_that_is_a_folder_or_missing(tmp_path):
    folder = tmp_path / "diary.csv"
    folder.mkdir()
    for path in (folder, tmp_path / "missing.csv"):
        with pytest.raises(EegmonError) as err:
            read_diary(path, timezone="UTC")
        assert_one_line(err, path, "cannot read the diary")


# ---------------------------------------------------------------------- diary: property
ZONES = ("Europe/Paris", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC", "America/New_York")


def _exists_once(wall: dt.datetime, zone: ZoneInfo) -> bool:
    """True unless a DST change skips ``wall`` (a gap) or repeats it (a fold)."""
    early, late = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    in_gap = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall
    return not in_gap and early.utcoffset() == late.utcoffset()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(walls=st.lists(st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2030, 12, 31, 23, 59)),
                      min_size=1, max_size=12, unique_by=lambda w: w.replace(microsecond=0)),
       zone_name=st.sampled_from(ZONES), in_column=st.booleans(), with_seconds=st.booleans())
def test_diary_round_trip_property(tmp_path, walls, zone_name, in_column, with_seconds):
    zone = ZoneInfo(zone_name)
    walls = [w.replace(microsecond=0) if with_seconds else w.replace(second=0, microsecond=0) for w in walls]
    assume(len(set(walls)) == len(walls))
    assume(all(_exists_once(w, zone) for w in walls))
    fmt = "%H:%M:%S" if with_seconds else "%H:%M"
    rows = [f"{w:%Y-%m-%d},{w.strftime(fmt)}" + (f",{zone_name}" if in_column else "") for w in walls]
    header = "date,time,timezone" if in_column else "date,time"
    path = tmp_path / f"prop_{zone_name.replace('/', '_')}.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")

    h = read_diary(path, timezone=None if in_column else zone_name)

    expected = sorted(w.replace(tzinfo=zone).astimezone(UTC).timestamp() for w in walls)
    assert h.onsets.tolist() == expected
    days = [dt.datetime.combine(w.date(), dt.time(0), tzinfo=zone) for w in walls]
    assert h.start == min(days).timestamp()
    assert h.stop == max(d + dt.timedelta(days=1) for d in days).timestamp()


# ---------------------------------------------------------------------- events.tsv
def _sz(onset: float, duration: float = 30.0, label: str = "sz") -> Annotation:
    return Annotation(onset=onset, duration=duration, label=label)


def _events_file(root: Path, subject: str, run: int, start: float, duration: float, onsets) -> Path:
    folder = root / f"sub-{subject}" / "ses-01" / "eeg"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sub-{subject}_ses-01_task-szMonitoring_run-{run:02d}_events.tsv"
    write_events_tsv(path, [_sz(t) for t in onsets], start, duration)
    return path


def test_from_annotations_one_file(tmp_path):
    start = utc(2024, 5, 1, 8)
    path = _events_file(tmp_path, "07", 0, start, 7200.0, [start + 600, start + 5000])
    (h,) = from_annotations(path)
    assert h.patient == "sub-07"
    assert h.onsets.tolist() == [start + 600, start + 5000]
    assert (h.start, h.stop) == (start, start + 7200)


def test_from_annotations_folder_one_history_per_subject(tmp_path):
    s1a, s1b, s2 = utc(2024, 5, 1, 8), utc(2024, 5, 9, 20), utc(2024, 6, 2)
    _events_file(tmp_path, "01", 1, s1b, 3600.0, [s1b + 100])      # written first: order must not matter
    _events_file(tmp_path, "01", 0, s1a, 86400.0, [s1a + 10, s1a + 40000])
    _events_file(tmp_path, "02", 0, s2, 1800.0, [])                # seizure-free: one bckg row
    # a BIDS dataset's derivatives are someone's output, not ground truth
    _events_file(tmp_path / "derivatives", "03", 0, s2, 1800.0, [s2 + 5])

    h1, h2 = from_annotations(tmp_path)
    assert (h1.patient, h2.patient) == ("sub-01", "sub-02")
    assert h1.onsets.tolist() == [s1a + 10, s1a + 40000, s1b + 100]
    assert (h1.start, h1.stop) == (s1a, s1b + 3600)
    assert h2.onsets.size == 0 and (h2.start, h2.stop) == (s2, s2 + 1800)
    assert [h.patient for h in load_histories(tmp_path)] == ["sub-01", "sub-02"]


def test_from_annotations_needs_absolute_times(tmp_path):
    path = write(tmp_path, "onset\tduration\teventType\trecordingDuration\n10.0\t30.0\tsz\t3600\n",
                 "sub-01_task-x_events.tsv")
    with pytest.raises(EegmonError) as err:
        from_annotations(path)
    assert_one_line(err, path, "dateTime", "absolute start")
    # the same file in a folder: the message still names it
    with pytest.raises(EegmonError) as err:
        from_annotations(tmp_path)
    assert_one_line(err, path, "dateTime")

    path = write(tmp_path, "onset\tduration\teventType\tdateTime\n10.0\t30.0\tsz\t2024-05-01 08:00:00\n",
                 "sub-02_task-x_events.tsv")
    with pytest.raises(EegmonError) as err:
        from_annotations(path)
    assert_one_line(err, path, "recordingDuration")


def test_from_annotations_tusz_has_no_start(tmp_path):
    path = tmp_path / "aaaaaaac_s001_t000.csv_bi"
    write_tusz_csv(path, [Annotation(onset=100.0, duration=30.0, label="sz_foc", original_label="fnsz")], 0.0,
                   600.0)
    ann = read_annotation(path)
    assert ann.start is None and ann.duration == pytest.approx(600.0)
    assert ann.seizures == [(pytest.approx(100.0), pytest.approx(130.0))]
    with pytest.raises(EegmonError) as err:
        from_annotations(path)
    assert_one_line(err, path, "TUSZ files have none", "absolute start")


# ---------------------------------------------------------------------- archives
FS = 64.0
T0 = utc(2025, 1, 6)
T1 = T0 + 3 * DAY


def _archive(path: Path, *, detections: bool = True) -> Path:
    """Two 60-s, 1-channel segments three days apart, with reviewed detections and ground truth.

    Detections: confirmed sz at T0+5 and T1+10, unreviewed sz at T0+20, rejected sz at T0+40,
    a confirmed artifact (musc) at T1+30. Annotations: sz at T0+15, sz_foc_ia at T1+25, a
    rejected sz at T1+40 and a bckg at T0+50.
    """
    digital = np.zeros((1, int(60 * FS)), dtype=np.int16)
    with Archive.create(path, ["Cz"], FS) as arc:
        arc.append_segment(T0, digital, [0.1], [0.0])
        arc.append_segment(T1, digital, [0.1], [0.0])
        if detections:
            det = dict(duration=5.0, source="detector:test")
            ids = arc.add_detections([Annotation(onset=T0 + 5, label="sz", **det),
                                      Annotation(onset=T0 + 20, label="sz", **det),
                                      Annotation(onset=T0 + 40, label="sz", **det),
                                      Annotation(onset=T1 + 10, label="sz_foc", **det),
                                      Annotation(onset=T1 + 30, label="musc", **det)])
            for id_, status in zip(ids, ("confirmed", "unreviewed", "rejected", "confirmed", "confirmed"),
                                   strict=True):
                if status != "unreviewed":
                    arc.update_detection(id_, status=status, reviewer="dr-a")
        ann_ids = arc.add_annotations([_sz(T0 + 15, 5.0), _sz(T1 + 25, 5.0, "sz_foc_ia"), _sz(T1 + 40, 5.0),
                                       Annotation(onset=T0 + 50, duration=5.0, label="bckg")])
        arc.update_annotation(ann_ids[2], status="rejected", reviewer="dr-a")
    return path


def test_from_archive_review_states(tmp_path):
    path = _archive(tmp_path / "P01.h5")
    h = from_archive(path)
    assert h.patient == "P01"
    assert h.onsets.tolist() == [T0 + 5, T1 + 10]
    assert (h.start, h.stop) == (T0, T1 + 60)
    assert h.days == pytest.approx(3 + 60 / DAY)
    assert "confirmed" in h.source

    h = from_archive(path, include_unreviewed=True)
    # never the rejected one at T0+40; the unreviewed detection at T0+20 touches the annotated
    # seizure at T0+15..20: one review item, one seizure, from the annotation's onset
    assert h.onsets.tolist() == [T0 + 5, T0 + 15, T1 + 10]

    h = from_archive(path, ground_truth=True)
    assert h.onsets.tolist() == [T0 + 15, T1 + 25]          # not bckg, not the rejected annotation
    assert (h.start, h.stop) == (T0, T1 + 60)


def test_from_archive_without_recording(tmp_path):
    path = tmp_path / "empty.h5"
    Archive.create(path, ["Cz"], FS).close()
    with pytest.raises(EegmonError) as err:
        from_archive(path)
    assert_one_line(err, path, "holds no recording")


def test_load_histories_folder_of_archives(tmp_path):
    _archive(tmp_path / "P01.h5")
    _archive(tmp_path / "P02.h5", detections=False)
    h1, h2 = load_histories(tmp_path)
    assert (h1.patient, h2.patient) == ("P01", "P02")
    assert h1.onsets.size == 2 and h2.onsets.size == 0
    h1, h2 = load_histories(tmp_path, ground_truth=True)
    assert h1.onsets.tolist() == h2.onsets.tolist() == [T0 + 15, T1 + 25]
    (h,) = load_histories(tmp_path / "P01.h5", include_unreviewed=True)
    assert h.onsets.size == 3
    with pytest.raises(EegmonError) as err:
        load_histories(tmp_path / "nothing.h5")
    assert_one_line(err, tmp_path / "nothing.h5", "no such file")


def test_diary_merged_into_archive_history(tmp_path):
    assert SAME_SEIZURE_S == 1800.0
    path = _archive(tmp_path / "P01.h5")
    # EEG: confirmed at T0+5 (00:00:05 UTC, 6 Jan) and T1+10 (9 Jan); diary in Paris time (UTC+1)
    diary = write(tmp_path, "date,time,type\n"
                            "2025-01-06,01:20,felt it\n"     # 00:20 UTC: the EEG's seizure, 20 min off
                            "2025-01-06,01:40,\n"            # 00:40 UTC: 35 min after it, a second one
                            "2025-01-07,13:00,\n"            # no EEG then (a gap): a diary-only seizure
                            "2025-01-09,01:29,\n")           # 00:29 UTC: within 30 min of T1+10
    (h,) = load_histories(path, diary=diary, timezone="Europe/Paris")
    assert h.patient == "P01"
    assert h.onsets.tolist() == [T0 + 5, utc(2025, 1, 6, 0, 40), utc(2025, 1, 7, 12), T1 + 10]
    # span union: the diary starts at local midnight of the 6th (23:00 UTC on the 5th)
    assert (h.start, h.stop) == (utc(2025, 1, 5, 23), max(T1 + 60, utc(2025, 1, 9, 23)))
    assert "diary" in h.source and "P01.h5" in h.source
    # the unreviewed detection at T0+20 (one review item with the annotated seizure at T0+15) is a
    # second EEG seizure, merged or not
    (h,) = load_histories(path, diary=diary, timezone="Europe/Paris", include_unreviewed=True)
    assert h.onsets.tolist() == [T0 + 5, T0 + 15, utc(2025, 1, 6, 0, 40), utc(2025, 1, 7, 12), T1 + 10]


def test_merged_keeps_clusters_of_one_source():
    eeg = SeizureHistory("P", np.array([1000.0, 1300.0, 1600.0]), 0.0, 1e5, "eeg")
    assert eeg.merged(SeizureHistory("P", np.array([]), 0.0, 10.0, "diary")).onsets.tolist() == [1000, 1300, 1600]
    diary = SeizureHistory("P", np.array([900.0, 50000.0, 50600.0]), 0.0, 1e5, "diary")
    # 900 is the EEG's 1000; the diary's own cluster at 50000/50600 is two seizures
    assert eeg.merged(diary).onsets.tolist() == [1000, 1300, 1600, 50000, 50600]
    # exactly SAME_SEIZURE_S away is another seizure; 1 s less is the same one
    edge = SeizureHistory("P", np.array([1600.0 + SAME_SEIZURE_S, 1000.0 - SAME_SEIZURE_S + 1]), -1e4, 1e5)
    assert eeg.merged(edge).onsets.tolist() == [1000, 1300, 1600, 1600 + SAME_SEIZURE_S]


def test_diary_needs_one_patient(tmp_path):
    _archive(tmp_path / "P01.h5")
    _archive(tmp_path / "P02.h5")
    diary = write(tmp_path, "date,time\n2025-01-06,12:00\n")
    with pytest.raises(EegmonError) as err:
        load_histories(tmp_path, diary=diary, timezone="UTC")
    assert_one_line(err, tmp_path, "--diary adds to one patient", "holds 2")


def test_load_histories_diary_source(tmp_path):
    path = write(tmp_path, "date,time\n2025-01-06,12:00\n", "P9.csv")
    (h,) = load_histories(path, timezone="Asia/Kathmandu")
    assert h.patient == "P9" and h.onsets.tolist() == [utc(2025, 1, 6, 6, 15)]


def test_check_histories(tmp_path):
    few = [SeizureHistory(f"P{i}", np.arange(n) * DAY, 0.0, 30 * DAY) for i, n in enumerate((0, 3, 10))]
    with pytest.raises(EegmonError) as err:
        check_histories(few, 10)
    msg = str(err.value)
    assert "\n" not in msg and "first 10 seizures" in msg and "more than 10" in msg
    with pytest.raises(EegmonError, match="more than 0"):
        check_histories([], 10)
    check_histories([*few, SeizureHistory("P9", np.arange(11) * DAY, 0.0, 30 * DAY)], 10)  # passes


# ---------------------------------------------------------------------- SeizureHistory
def test_history_sorts_and_measures():
    h = SeizureHistory("P", [30.0, 10.0, 20.0], 0.0, 2 * DAY)
    assert h.onsets.tolist() == [10.0, 20.0, 30.0] and h.days == 2.0
    assert SeizureHistory("P", [], 0.0, 1.0).onsets.size == 0


@pytest.mark.parametrize(("onsets", "start", "stop", "fragment"), [
    ([-1.0], 0.0, 100.0, "outside the observed span"),
    ([100.0], 0.0, 100.0, "outside the observed span"),   # the span is half-open
    ([50.0, 150.0], 0.0, 100.0, "outside the observed span"),
    ([], 100.0, 100.0, "must end after it starts"),
    ([], 100.0, 50.0, "must end after it starts"),
    ([], 0.0, math.nan, "must end after it starts"),
    ([math.nan], 0.0, 100.0, "finite"),
    ([10.0, math.inf], 0.0, 100.0, "finite"),
    ([[10.0], [20.0]], 0.0, 100.0, "1-D"),
])
def test_history_validation(onsets, start, stop, fragment):
    with pytest.raises(EegmonError) as err:
        SeizureHistory("P3", onsets, start, stop)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("P3: ") and fragment in msg


def test_a_datetime_column_with_or_without_offsets(tmp_path):
    diary = tmp_path / "app.csv"
    diary.write_text("datetime,type\n2025-03-04T07:15+01:00,focal\n2025-03-05 08:00,\n2025-07-01T12:00:30Z,\n")
    history = read_diary(diary, timezone="Europe/Paris")
    expected = [dt.datetime(2025, 3, 4, 6, 15, tzinfo=dt.UTC), dt.datetime(2025, 3, 5, 7, 0, tzinfo=dt.UTC),
                dt.datetime(2025, 7, 1, 12, 0, 30, tzinfo=dt.UTC)]
    assert list(history.onsets) == [e.timestamp() for e in expected]
    # rows with an offset need no time zone; a row without one still does
    diary.write_text("datetime\n2025-03-04T07:15+01:00\n2025-03-05T07:15-05:00\n")
    assert read_diary(diary).onsets.size == 2
    diary.write_text("datetime\n2025-03-04T07:15+01:00\n2025-03-05T07:15\n")
    with pytest.raises(EegmonError, match="line 3: no time zone"):
        read_diary(diary)
    diary.write_text("datetime\n04/03/2025 07:15\n")
    with pytest.raises(EegmonError, match=r"line 2: bad datetime '04/03/2025 07:15'"):
        read_diary(diary, timezone="UTC")
