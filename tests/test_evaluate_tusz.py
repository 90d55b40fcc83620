"""``eegmon evaluate`` with TUSZ ``.csv_bi`` / ``.csv`` files and folders as REF and HYP, mixed with events.tsv."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _archive_helpers import REALDATA
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.cli import main
from eegmon.evaluate import evaluate
from eegmon.evaluate.dataset import collect
from eegmon.events import Annotation
from eegmon.io import read_chbmit_summary, read_events_tsv, write_events_tsv, write_tusz_csv
from eegmon.io.labels import map_label

START = 1_736_150_400.0  # 2025-01-06 08:00 UTC: the dateTime of the events.tsv files written here
ANNOTATIONS = REALDATA / "annotations"
realdata = pytest.mark.skipif(not ANNOTATIONS.is_dir(), reason="../shared/realdata/annotations not present")
HEADER = "channel,start_time,stop_time,label,confidence"


def csv_bi(path: Path, seizures, duration: float, *, label="seiz", duration_line=True) -> Path:
    """A TUSZ ``.csv_bi`` as the corpus ships it: TERM rows tiling the recording, bckg between seizures."""
    rows, t = [], 0.0
    for a, b in seizures:
        if a > t:
            rows.append(f"TERM,{t:.4f},{a:.4f},bckg,1.0000")
        rows.append(f"TERM,{a:.4f},{b:.4f},{label},1.0000")
        t = b
    if t < duration:
        rows.append(f"TERM,{t:.4f},{duration:.4f},bckg,1.0000")
    head = ["# version = csv_v1.0.0", f"# bname = {path.name.split('.')[0]}"]
    head += [f"# duration = {duration:.4f} secs"] if duration_line else []
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([*head, "#", HEADER, *rows]) + "\n")
    return path


def per_channel_csv(path: Path, rows, duration: float) -> Path:
    """A TUSZ per-channel ``.csv``: rows of (channel, start, stop, label)."""
    lines = ["# version = csv_v1.0.0", f"# bname = {path.stem}", f"# duration = {duration:.4f} secs", "#", HEADER]
    lines += [f"{c},{a:.4f},{b:.4f},{lab},1.0000" for c, a, b, lab in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def events_tsv(path: Path, seizures, duration: float, *, label="sz") -> Path:
    """An events.tsv as ``eegmon detect -o FOLDER`` writes it (dateTime and recordingDuration on every row)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_events_tsv(path, [Annotation(onset=START + a, duration=b - a, label=label) for a, b in seizures],
                     START, duration)
    return path


def tusz_path(root: Path, name: str, suffix=".csv_bi") -> Path:
    """Where TUSZ keeps a recording's annotations: <split>/<subject>/<session>/<montage>/<name><suffix>."""
    subject, session, _ = name.split("_")
    return root / "dev" / subject / f"{session}_2002" / "01_tcp_ar" / f"{name}{suffix}"


def cli(*args: str) -> int:
    return main(["evaluate", "-q", *args])


def cli_json(ref: Path, hyp: Path, out: Path) -> tuple[str, str]:
    """The ``--json`` and ``--details`` texts of one run."""
    assert cli("--ref", str(ref), "--hyp", str(hyp), "--json", str(out / "s.json"),
               "--details", str(out / "d.json")) == 0
    return (out / "s.json").read_text(), (out / "d.json").read_text()


# --- the same events written both ways give the same scores ---------------------------------------------------

REF = {"aaaaaaac_s001_t000": ([(100, 160), (1000, 1090)], 1800.0), "aaaaaaaj_s002_t001": ([], 3600.0)}
HYP = {"aaaaaaac_s001_t000": [(110, 130), (1500, 1510)], "aaaaaaaj_s002_t001": []}


def test_tusz_ref_against_detect_output_scores_as_events_tsv_both_sides(tmp_path):
    for name, (seizures, duration) in REF.items():
        csv_bi(tusz_path(tmp_path / "tusz", name), seizures, duration)
        events_tsv(tmp_path / "tsv_ref" / f"{name}_events.tsv", seizures, duration)
        events_tsv(tmp_path / "hyp" / f"{name}_events.tsv", HYP[name], duration)
    doc = evaluate(tmp_path / "tusz", tmp_path / "hyp").to_json()
    assert doc == evaluate(tmp_path / "tsv_ref", tmp_path / "hyp").to_json()
    e, s = doc["event"], doc["sample"]
    # seizure 1 detected 10 s late, seizure 2 missed, one false alarm at 1500 s; 1.5 h in all
    assert (e["n_ref"], e["n_hyp"], e["sensitivity"], e["precision"]) == (2, 2, 0.5, 0.5)
    assert e["latency_median_s"] == 10.0 and e["hours"] == pytest.approx(1.5)
    assert e["fp_per_24h"] == pytest.approx(16.0)
    assert s["sensitivity"] == pytest.approx(20 / 150) and s["precision"] == pytest.approx(20 / 30)
    assert [p["subject"] for p in doc["per_subject"]] == ["aaaaaaac", "aaaaaaaj"]


def test_single_files_in_every_combination_score_alike(tmp_path):
    seizures, duration = REF["aaaaaaac_s001_t000"]
    ref_bi = csv_bi(tmp_path / "aaaaaaac_s001_t000.csv_bi", seizures, duration, label="cpsz")
    ref_tsv = events_tsv(tmp_path / "truth.tsv", seizures, duration)
    hyp_bi = csv_bi(tmp_path / "detected.csv_bi", HYP["aaaaaaac_s001_t000"], duration)
    hyp_tsv = events_tsv(tmp_path / "detected_events.tsv", HYP["aaaaaaac_s001_t000"], duration)
    docs = [evaluate(r, h).to_json() for r in (ref_bi, ref_tsv) for h in (hyp_bi, hyp_tsv)]
    assert docs[0]["event"]["sensitivity"] == 0.5 and docs[0]["event"]["n_hyp"] == 2
    # the subject comes from the reference's file name: "aaaaaaac" for the TUSZ one, "truth" for the other
    assert docs[0]["per_subject"][0]["subject"] == "aaaaaaac"
    assert all({k: d[k] for k in ("event", "sample")} == {k: docs[0][k] for k in ("event", "sample")}
               for d in docs)


def test_only_seizure_labels_count(tmp_path):
    path = per_channel_csv(tmp_path / "aaaaaaac_s001_t000.csv_bi", [
        ("TERM", 0, 100, "bckg"), ("TERM", 100, 160, "fnsz"), ("TERM", 160, 300, "eyem"), ("TERM", 300, 400, "musc"),
        ("TERM", 400, 500, "nesz"), ("TERM", 500, 560, "gnsz"), ("TERM", 560, 900, "bckg")], 900.0)
    [pair] = collect(path, path)
    assert pair.ref == [(100.0, 160.0), (500.0, 560.0)] and pair.duration == 900.0


def test_per_channel_csv_is_the_union_over_channels(tmp_path):
    path = per_channel_csv(tmp_path / "aaaaaaac_s001_t000.csv", [
        ("FP1-F7", 100, 160, "cpsz"), ("F7-T3", 130, 200, "cpsz"), ("T3-T5", 200, 230, "cpsz"),
        ("FP2-F8", 500, 520, "gnsz"), ("FP1-F7", 700, 800, "musc")], 1200.0)
    [pair] = collect(path, path)
    assert pair.ref == [(100.0, 230.0), (500.0, 520.0)]


# --- folders ---------------------------------------------------------------------------------------------------


def test_folders_pair_across_formats_by_relative_path_then_recording_name(tmp_path):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    a = tusz_path(ref, "aaaaaaac_s001_t000")
    csv_bi(a, [(100, 160)], 1800.0)
    # the TUSZ per-channel twin of a .csv_bi is not read (its extra seizure at 1200 s must not count)
    per_channel_csv(a.with_suffix(".csv"), [("FP1-F7", 100, 160, "seiz"), ("F7-T3", 1200, 1250, "seiz")], 1800.0)
    a.with_suffix(".edf").write_bytes(b"0       not an annotation file")
    per_channel_csv(tusz_path(ref, "aaaaaaaj_s002_t001", ".csv"), [("FP1-F7", 50, 90, "gnsz")], 600.0)
    bids = Path("bids/sub-07/eeg/sub-07_task-szMonitoring_run-00")
    events_tsv(ref / f"{bids}_events.tsv", [(3000, 3050)], 7200.0)
    events_tsv(hyp / "aaaaaaac_s001_t000_events.tsv", [(120, 140)], 1800.0)  # what detect -o FOLDER writes
    csv_bi(hyp / "aaaaaaaj_s002_t001.csv_bi", [], 600.0)  # a TUSZ-format hypothesis
    csv_bi(hyp / f"{bids}.csv_bi", [(3010, 3020)], 7200.0)  # paired by relative path
    pairs = {p.name: p for p in collect(ref, hyp)}
    assert set(pairs) == {"dev/aaaaaaac/s001_2002/01_tcp_ar/aaaaaaac_s001_t000",
                          "dev/aaaaaaaj/s002_2002/01_tcp_ar/aaaaaaaj_s002_t001", str(bids)}
    first = pairs["dev/aaaaaaac/s001_2002/01_tcp_ar/aaaaaaac_s001_t000"]
    assert (first.subject, first.ref, first.hyp, first.duration) == ("aaaaaaac", [(100.0, 160.0)], [(120.0, 140.0)],
                                                                     1800.0)
    second = pairs["dev/aaaaaaaj/s002_2002/01_tcp_ar/aaaaaaaj_s002_t001"]
    assert (second.subject, second.ref, second.hyp, second.duration) == ("aaaaaaaj", [(50.0, 90.0)], [], 600.0)
    third = pairs[str(bids)]
    assert (third.subject, third.ref, third.hyp, third.start) == ("07", [(3000.0, 3050.0)], [(3010.0, 3020.0)], START)
    doc = evaluate(ref, hyp).to_json()["event"]
    assert (doc["n_ref"], doc["n_hyp"], doc["sensitivity"]) == (3, 2, pytest.approx(2 / 3))


def test_reference_without_hypothesis_is_scored_as_no_detections(tmp_path, caplog):
    ref, hyp = tmp_path / "ref", tmp_path / "hyp"
    lonely = csv_bi(tusz_path(ref, "aaaaaaac_s001_t000"), [(100, 160)], 1800.0)
    csv_bi(tusz_path(ref, "aaaaaaaj_s002_t001"), [(10, 70)], 1800.0)
    events_tsv(hyp / "aaaaaaaj_s002_t001_events.tsv", [(20, 30)], 1800.0)
    out = tmp_path / "s.json"
    with caplog.at_level("WARNING", logger="eegmon"):
        assert cli("--ref", str(ref), "--hyp", str(hyp), "--json", str(out)) == 0
    assert f"no hypothesis for {lonely}: scored as no detections" in caplog.text
    doc = json.loads(out.read_text())
    assert doc["event"]["n_ref"] == 2 and doc["event"]["sensitivity"] == 0.5 and doc["event"]["hours"] == 1.0


def test_durations_within_one_second_are_the_same_recording(tmp_path):
    ref = csv_bi(tmp_path / "x.csv_bi", [(100, 160)], 1800.0)
    hyp = events_tsv(tmp_path / "x_events.tsv", [(100, 160)], 1800.9)
    [pair] = collect(ref, hyp)
    assert pair.duration == 1800.0  # the reference's


# --- errors: exit 2 and one line naming the file and the problem -----------------------------------------------


def _case_malformed(tmp):
    bad = csv_bi(tmp / "ref" / "x.csv_bi", [(10, 20)], 100.0)
    bad.write_text(bad.read_text() + "TERM,30.0,40.0,seiz\n")
    events_tsv(tmp / "hyp" / "x_events.tsv", [], 100.0)
    return "ref", "hyp", [str(bad), "line 9: expected 5 comma-separated columns, got 4"]


def _case_no_header(tmp):
    (tmp / "ref").mkdir()
    (tmp / "ref" / "x.csv_bi").write_text("# duration = 100.0000 secs\nTERM,0,100,bckg,1\n")
    events_tsv(tmp / "hyp" / "x_events.tsv", [], 100.0)
    return "ref", "hyp", ["x.csv_bi", f"expected the header {HEADER!r}"]


def _case_no_duration(tmp):
    path = csv_bi(tmp / "x.csv_bi", [(10, 20)], 100.0, duration_line=False)
    events_tsv(tmp / "x_events.tsv", [], 100.0)
    return "x.csv_bi", "x_events.tsv", [str(path), "no '# duration = <seconds> secs' line"]


def _case_zero_duration(tmp):
    csv_bi(tmp / "x.csv_bi", [], 0.0)
    events_tsv(tmp / "x_events.tsv", [], 100.0)
    return "x.csv_bi", "x_events.tsv", ["x.csv_bi", "line 3: the duration must be > 0 s, got 0"]


def _case_empty_ref_folder(tmp):
    (tmp / "ref" / "dev").mkdir(parents=True)
    (tmp / "ref" / "dev" / "x.edf").write_bytes(b"0")
    events_tsv(tmp / "hyp" / "x_events.tsv", [], 100.0)
    return "ref", "hyp", [str(tmp / "ref"), "no annotation files in this --ref folder: expected SzCORE *_events.tsv "
                          "or TUSZ *.csv_bi / per-channel *.csv files"]


def _case_empty_hyp_folder(tmp):
    csv_bi(tmp / "ref" / "x.csv_bi", [], 100.0)
    (tmp / "hyp" / "derivatives").mkdir(parents=True)
    events_tsv(tmp / "hyp" / "derivatives" / "x_events.tsv", [], 100.0)  # derivatives/ is not searched
    return "ref", "hyp", [str(tmp / "hyp"), "no annotation files in this --hyp folder"]


def _case_duration_mismatch(tmp):
    ref = csv_bi(tusz_path(tmp / "ref", "aaaaaaac_s001_t000"), [(10, 20)], 1800.0)
    hyp = events_tsv(tmp / "hyp" / "aaaaaaac_s001_t000_events.tsv", [], 1802.0)
    return "ref", "hyp", [f"{hyp}: recording duration 1802 s differs from the 1800 s of the reference {ref} by more "
                          "than 1 s"]


def _case_orphan_hypothesis(tmp):
    csv_bi(tusz_path(tmp / "ref", "aaaaaaac_s001_t000"), [], 100.0)
    events_tsv(tmp / "hyp" / "aaaaaaac_s001_t000_events.tsv", [], 100.0)
    orphan = events_tsv(tmp / "hyp" / "aaaaaaac_s001_t001_events.tsv", [], 100.0)
    return "ref", "hyp", [str(orphan), "has no reference file with the same relative path or recording name"]


def _case_two_files_one_recording(tmp):
    csv_bi(tmp / "ref" / "x.csv_bi", [], 100.0)
    events_tsv(tmp / "ref" / "x_events.tsv", [], 100.0)
    events_tsv(tmp / "hyp" / "x_events.tsv", [], 100.0)
    return "ref", "hyp", ["two annotation files for one recording in this --ref folder: x.csv_bi and x_events.tsv"]


def _case_ambiguous_name(tmp):
    csv_bi(tusz_path(tmp / "ref", "aaaaaaac_s001_t000"), [], 100.0)
    events_tsv(tmp / "hyp" / "run1" / "aaaaaaac_s001_t000_events.tsv", [], 100.0)
    events_tsv(tmp / "hyp" / "run2" / "aaaaaaac_s001_t000_events.tsv", [], 100.0)
    return "ref", "hyp", ["aaaaaaac_s001_t000.csv_bi: several hypothesis files have its recording name"]


def _case_name_claimed_twice(tmp):
    csv_bi(tmp / "ref" / "site1" / "x.csv_bi", [], 100.0)
    csv_bi(tmp / "ref" / "site2" / "x.csv_bi", [], 100.0)
    hyp = events_tsv(tmp / "hyp" / "x_events.tsv", [], 100.0)
    return "ref", "hyp", [f"{hyp}: hypothesis file has the recording name of two reference files"]


def _case_unknown_format(tmp):
    (tmp / "truth.txt").write_text("onset\tduration\teventType\n")
    events_tsv(tmp / "x_events.tsv", [], 100.0)
    return "truth.txt", "x_events.tsv", ["truth.txt: unknown annotation format: expected an SzCORE events.tsv (*.tsv) "
                                         "or a TUSZ *.csv_bi / per-channel *.csv file, got 'truth.txt'"]


ERRORS = {f.__name__.removeprefix("_case_"): f for f in (
    _case_malformed, _case_no_header, _case_no_duration, _case_zero_duration, _case_empty_ref_folder,
    _case_empty_hyp_folder, _case_duration_mismatch, _case_orphan_hypothesis, _case_two_files_one_recording,
    _case_ambiguous_name, _case_name_claimed_twice, _case_unknown_format)}


@pytest.mark.parametrize("case", ERRORS)
def test_bad_input_is_exit_2_with_one_line(tmp_path, capsys, case):
    ref, hyp, expected = ERRORS[case](tmp_path)
    assert cli("--ref", str(tmp_path / ref), "--hyp", str(tmp_path / hyp)) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eegmon evaluate: error: "), err
    for text in expected:
        assert text in lines[0]
    assert out == ""


def test_bad_csv_bi_in_a_real_process_is_one_line_and_a_traceback_only_with_debug(tmp_path):
    ref, hyp, _ = _case_malformed(tmp_path)
    args = [sys.executable, "-m", "eegmon.cli", "evaluate", "--ref", str(tmp_path / ref), "--hyp", str(tmp_path / hyp)]
    plain = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert plain.returncode == 2
    assert plain.stderr.strip().splitlines() == [f"eegmon evaluate: error: {tmp_path / ref / 'x.csv_bi'}: line 9: "
                                                 "expected 5 comma-separated columns, got 4."]
    debug = subprocess.run([*args, "--debug"], capture_output=True, text=True, timeout=300)
    assert debug.returncode == 2 and "Traceback" in debug.stderr and "EegmonError" in debug.stderr


# --- property: csv_bi and events.tsv are two spellings of the same annotations ---------------------------------

SEIZURE_CODES = ("seiz", "fnsz", "cpsz", "gnsz", "tcsz", "absz")
ARTIFACT_CODES = ("musc", "eyem", "chew", "bckg")


@st.composite
def recordings(draw):
    """1-4 recordings of two subjects: duration, reference and hypothesis events on a 0.5-s grid, artifacts."""
    out = {}
    for token in range(draw(st.integers(1, 4))):
        subject = draw(st.sampled_from(["aaaaaaac", "aaaaaaaj"]))
        duration = float(draw(st.integers(300, 12_000)))

        def spans(codes, duration=duration):
            start = st.integers(0, int(duration * 2) - 2)
            items = draw(st.lists(st.tuples(start, st.integers(1, 1200), st.sampled_from(codes)), max_size=5))
            return [(a / 2, min(a / 2 + n / 2, duration), c) for a, n, c in items]

        out[f"{subject}_s001_t{token:03d}"] = {
            "duration": duration, "ref": spans(SEIZURE_CODES), "hyp": spans(SEIZURE_CODES),
            "artifacts": spans(ARTIFACT_CODES), "channels": draw(st.integers(1, 3)),
        }
    return out


def _annotations(spans, n_channels=0):
    """Annotations of (start, stop, TUSZ code); with channels, each span on 1..n channels, the later ones shorter."""
    out = []
    for a, b, code in spans:
        chans = [()] if not n_channels else [(f"EEG{i}",) for i in range(n_channels)]
        for i, ch in enumerate(chans):
            stop = b if i == 0 else a + (b - a) / (i + 1)
            out.append(Annotation(onset=START + a, duration=stop - a, label=map_label(code), channels=ch,
                                  original_label=code))
    return out


def _write_all(root: Path, recs: dict) -> None:
    """Each side of each recording in each format: ref/<fmt>/ in the TUSZ tree, hyp/<fmt>/ flat."""
    for name, r in recs.items():
        for side in ("ref", "hyp"):
            channels = r["channels"] if side == "ref" else 0
            events = _annotations(r[side] + r["artifacts"], channels)
            flat = root / side / "tsv" / f"{name}_events.tsv"
            tsv = tusz_path(root / side / "tsv", name, "_events.tsv") if side == "ref" else flat
            tsv.parent.mkdir(parents=True, exist_ok=True)
            write_events_tsv(tsv, [e for e in events if e.label != "bckg"], START, r["duration"])
            for fmt, ev in ((".csv_bi", _annotations(r[side] + r["artifacts"])), (".csv", events)):
                path = tusz_path(root / side / fmt[1:], name, fmt) if side == "ref" else root / side / fmt[1:] / (
                    name + fmt)
                path.parent.mkdir(parents=True, exist_ok=True)
                write_tusz_csv(path, ev, START, r["duration"])


@settings(max_examples=40, deadline=None)
@given(recs=recordings())
def test_scores_do_not_depend_on_the_file_format(tmp_path_factory, recs):
    root = tmp_path_factory.mktemp("formats")
    _write_all(root, recs)
    baseline = cli_json(root / "ref" / "tsv", root / "hyp" / "tsv", root)
    doc = json.loads(baseline[0])
    n_seizure_rows = sum(len(r["ref"]) for r in recs.values())
    assert (doc["event"]["n_ref"] == 0) == (n_seizure_rows == 0)
    assert doc["event"]["hours"] == pytest.approx(sum(r["duration"] for r in recs.values()) / 3600)
    for ref_fmt in ("tsv", "csv_bi", "csv"):
        for hyp_fmt in ("tsv", "csv_bi", "csv"):
            if (ref_fmt, hyp_fmt) != ("tsv", "tsv"):
                assert cli_json(root / "ref" / ref_fmt, root / "hyp" / hyp_fmt, root) == baseline, (ref_fmt, hyp_fmt)


# --- real annotation files -------------------------------------------------------------------------------------


@realdata
def test_real_szcore_sample_as_csv_bi_scores_like_the_original(tmp_path):
    sample = ANNOTATIONS / "szcore" / "sample.tsv"
    tsv = read_events_tsv(sample)
    converted = tmp_path / "sample.csv_bi"
    write_tusz_csv(converted, tsv.events, tsv.recording_start, tsv.recording_duration)
    assert evaluate(converted, converted).to_json() == evaluate(sample, sample).to_json()
    # across formats the onsets differ by float rounding only ((start + 36.89) - start != 36.89)
    doc = evaluate(converted, sample).to_json()
    assert doc["event"]["n_ref"] == 3 and doc["event"]["f1"] == 1.0 and doc["event"]["hours"] == 1.0
    assert doc["event"]["latency_median_s"] == pytest.approx(0.0, abs=1e-6)
    assert doc["sample"] == evaluate(sample, converted).to_json()["sample"]


@realdata
def test_real_chbmit_seizures_as_tusz_reference_against_detect_output(tmp_path):
    files = [f for f in read_chbmit_summary(ANNOTATIONS / "chbmit" / "chb01-summary.txt") if f.start_clock is not None]
    for f in files:
        duration = (f.end_clock - f.start_clock) % 86400
        stem = Path(f.name).stem
        csv_bi(tmp_path / "ref" / "chb01" / f"{stem}.csv_bi", f.seizures, duration)
        detected = [(a + 10, a + 30) for a, _ in f.seizures]  # every seizure found 10 s after its onset
        events_tsv(tmp_path / "hyp" / f"{stem}_events.tsv", detected, duration)
        events_tsv(tmp_path / "ref_tsv" / f"{stem}_events.tsv", f.seizures, duration)
    doc = evaluate(tmp_path / "ref", tmp_path / "hyp").to_json()
    assert doc["event"]["n_ref"] == sum(len(f.seizures) for f in files) == 7
    assert doc["event"]["sensitivity"] == 1.0 and doc["event"]["latency_median_s"] == 10.0
    assert [s["subject"] for s in doc["per_subject"]] == ["chb01"]
    assert doc == evaluate(tmp_path / "ref_tsv", tmp_path / "hyp").to_json()
