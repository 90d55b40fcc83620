"""Annotation formats: SzCORE events.tsv, CHB-MIT summary, TUSZ csv_bi/csv, EDF+ TAL; label mapping."""

from __future__ import annotations

import pytest
from _archive_helpers import REALDATA, START, digital, write_edf

from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.io import (
    ChbmitFile,
    map_label,
    read_annotation_file,
    read_chbmit_summary,
    read_events_tsv,
    read_tusz_csv,
    write_chbmit_summary,
    write_events_tsv,
    write_tusz_csv,
)

T0 = START.timestamp()
realdata = pytest.mark.skipif(not REALDATA.is_dir(), reason="../shared/realdata not present")


@pytest.mark.parametrize(
    "text,label",
    [
        ("sz", "sz"),
        ("SZ_FOC_IA", "sz_foc_ia"),
        ("cpsz", "sz_foc_ia"),
        ("fnsz", "sz_foc"),
        ("gnsz", "sz_gen"),
        ("absz", "sz_gen_nm"),
        ("tcsz", "sz_gen_m_tonicClonic"),
        ("bckg", "bckg"),
        ("Seizure", "sz"),
        ("seizure onset left", "sz"),
        ("musc", "musc"),
        ("Lights off", "unknown"),
        ("", "unknown"),
    ],
)
def test_map_label(text, label):
    assert map_label(text) == label


def test_events_tsv_round_trip(tmp_path):
    events = [
        Annotation(
            onset=T0 + 10,
            duration=20,
            label="sz_foc_ia",
            channels=("EEG1",),
            confidence=0.9,
            original_label="sz_foc_ia",
        ),
        Annotation(onset=T0 + 100, duration=5.5, label="sz", original_label="sz"),
    ]
    write_events_tsv(tmp_path / "x_events.tsv", events, T0, 3600.0)
    back = read_events_tsv(tmp_path / "x_events.tsv")
    assert back.recording_start == T0 and back.recording_duration == 3600.0
    assert back.events == events


def test_chbmit_round_trip(tmp_path):
    files = [ChbmitFile("p_01.edf", 3600, 7200, []), ChbmitFile("p_02.edf", 7205, 10805, [(10.0, 40.0), (99, 120)])]
    write_chbmit_summary(tmp_path / "p-summary.txt", files, fs=256)
    assert read_chbmit_summary(tmp_path / "p-summary.txt") == files


@realdata
@pytest.mark.parametrize("patient,n_files,n_sz", [("01", 42, 7), ("05", 39, 5), ("08", 20, 5)])
def test_chbmit_real_summaries(patient, n_files, n_sz):
    files = read_chbmit_summary(REALDATA / "annotations" / "chbmit" / f"chb{patient}-summary.txt")
    assert len(files) == n_files
    assert sum(len(f.seizures) for f in files) == n_sz
    if patient == "01":
        f03 = next(f for f in files if f.name == "chb01_03.edf")
        assert f03.seizures == [(2996.0, 3036.0)]
        assert f03.start_clock == 13 * 3600 + 43 * 60 + 4


@realdata
def test_szcore_real_sample():
    tsv = read_events_tsv(REALDATA / "annotations" / "szcore" / "sample.tsv")
    assert [e.label for e in tsv.events] == ["sz", "sz", "sz"]
    assert tsv.recording_duration == 3600.0
    assert tsv.events[1].confidence is None and tsv.events[2].confidence == 0.0


def test_tusz_round_trip(tmp_path):
    events = [Annotation(onset=T0 + 12, duration=30, label="sz_foc_ia", confidence=1.0, original_label="cpsz")]
    write_tusz_csv(tmp_path / "r.csv_bi", events, T0, 300.0)
    text = (tmp_path / "r.csv_bi").read_text()
    assert "TERM,0.0000,12.0000,bckg,1.0000" in text and "TERM,12.0000,42.0000,cpsz,1.0000" in text
    back = read_tusz_csv(tmp_path / "r.csv_bi", recording_start=T0)
    assert back.duration == 300.0
    assert back.events == events
    per_channel = [
        Annotation(onset=T0 + 1, duration=2, label="sz_gen", channels=(c,), confidence=0.5, original_label="gnsz")
        for c in ("FP1-F7", "F7-T3")
    ]
    write_tusz_csv(tmp_path / "r.csv", per_channel, T0, 300.0)
    assert read_tusz_csv(tmp_path / "r.csv", recording_start=T0).events == per_channel


MALFORMED = {
    "tsv bad onset": ("x_events.tsv", "onset\tduration\teventType\nabc\t1\tsz\n", "must be a number"),
    "tsv short row": ("x_events.tsv", "onset\tduration\teventType\n1\t1\n", "columns"),
    "tsv negative": ("x_events.tsv", "onset\tduration\teventType\n1\t-1\tsz\n", "duration must be >= 0"),
    "tsv outside": ("x_events.tsv", "onset\tduration\teventType\n25\t10\tsz\n", "outside"),
    "tusz no header": ("x.csv_bi", "TERM,0,1,seiz,1\n", "expected the header"),
    "tusz reversed": (
        "x.csv_bi",
        "channel,start_time,stop_time,label,confidence\nTERM,5,1,seiz,1\n",
        "start_time <= stop_time",
    ),
    "tusz past end": ("x.csv_bi", "channel,start_time,stop_time,label,confidence\nTERM,25,40,seiz,1\n", "outside"),
    "chbmit orphan end": ("x-summary.txt", "File Name: x.edf\nSeizure End Time: 5 seconds\n", "without a start"),
    "chbmit count": (
        "x-summary.txt",
        "File Name: x.edf\nNumber of Seizures in File: 2\nSeizure Start Time: 1 seconds\nSeizure End Time: 5 seconds\n",
        "says 2",
    ),
    "chbmit past end": (
        "x-summary.txt",
        "File Name: x.edf\nSeizure Start Time: 1 seconds\nSeizure End Time: 500 seconds\n",
        "ends after the file",
    ),
    "chbmit no match": ("x-summary.txt", "File Name: other.edf\n", "none of the"),
    "not utf8": ("x_events.tsv", b"\xff\xfe\x00bad", "UTF-8"),
    "empty": ("x_events.tsv", "", "empty"),
    "unknown format": ("x.json", "{}", "unknown annotation format"),
}


@pytest.mark.parametrize("name,content,match", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_annotation_files(tmp_path, name, content, match):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(EegmonError, match=match) as err:
        read_annotation_file(path, {"x.edf": (T0, 30.0)})
    assert str(path) in str(err.value)


def test_read_annotation_file_anchors(tmp_path):
    spans = {"chb01_03.edf": (T0, 3600.0)}
    (tmp_path / "chb01-summary.txt").write_text(
        "File Name: chb01_03.edf\nNumber of Seizures in File: 1\nSeizure Start Time: 2996 seconds\n"
        "Seizure End Time: 3036 seconds\n\nFile Name: chb01_04.edf\nNumber of Seizures in File: 0\n"
    )
    [sz] = read_annotation_file(tmp_path / "chb01-summary.txt", spans)
    assert (sz.onset, sz.duration, sz.label, sz.original_label) == (T0 + 2996, 40, "sz", "Seizure")
    (tmp_path / "chb01_03.csv_bi").write_text(
        "# duration = 3600.00 secs\nchannel,start_time,stop_time,label,confidence\nTERM,5,15,fnsz,1\n"
    )
    [ev] = read_annotation_file(tmp_path / "chb01_03.csv_bi", spans)
    assert (ev.onset, ev.label, ev.original_label) == (T0 + 5, "sz_foc", "fnsz")
    edf = write_edf(tmp_path / "n.edf", digital(1, 207 * 5), annotations=[(1.0, 2.0, "seizure")])
    [tal] = read_annotation_file(edf, spans)
    assert (tal.onset, tal.label) == (T0 + 1, "sz")
