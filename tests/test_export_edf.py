"""EDF+ export of an archive span: a strict header check, four readers (EDFbrowser when installed,
MNE, edfio, eegmon's own) agreeing with the archive, the round trip through 'eegmon import', and the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

import edfio
import mne
import numpy as np
import pytest
from _archive_helpers import START, digital
from _terminal import FakeTerminal
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from eegmon.archive import Archive, interop
from eegmon.archive.interop import GAP_DESCRIPTION, event_text, export_edf, record_layout
from eegmon.cli import main
from eegmon.errors import EegmonError
from eegmon.events import Annotation
from eegmon.io import open_recording

FS = 207
T0 = START.timestamp() + 0.25  # a recording that starts a quarter second past the second
GAINS, OFFSETS = [0.05, 0.1], [480.0, -30.0]  # a DC offset of hundreds of µV on one channel (PITFALLS)


def make_archive(path: Path, fs: float = FS, n_channels: int = 2, seconds: tuple[int, int] = (60, 30),
                 gap_s: float = 30.0, t0: float = T0, seed: int = 0) -> Archive:
    """Two segments with a gap between them, annotations and detections (one rejected, one confirmed)."""
    names = ["F3", "C3", "P3", "O1", "Fz", "Cz"][:n_channels]
    arc = Archive.create(path, names, fs)
    gains = (GAINS * n_channels)[:n_channels]
    offsets = (OFFSETS * n_channels)[:n_channels]
    n1, n2 = (int(round(s * fs)) for s in seconds)
    arc.append_segment(t0, digital(n_channels, n1, seed=seed), gains, offsets, source="a")
    arc.append_segment(t0 + n1 / fs + gap_s, digital(n_channels, n2, seed=seed + 1), gains, offsets, source="b")
    arc.add_annotations([
        Annotation(t0 + 5, 10.0, "sz"),
        Annotation(t0 + n1 / fs + gap_s + 2, 1.5, "musc", source="reviewer:dr.x", status="confirmed"),
    ])
    arc.add_detections([
        Annotation(t0 + 20, 8.0, "sz", confidence=0.91, source="detector:ll", status="rejected"),
        Annotation(t0 + 4, 12.0, "sz", confidence=0.8, source="detector:ll", status="confirmed", channels=("F3",)),
    ])
    return arc


@pytest.fixture
def arc(tmp_path):
    with make_archive(tmp_path / "p.h5") as a:
        yield a


def _step(path: Path) -> np.ndarray:
    """Each data channel's digital step in µV, from the header."""
    return np.array([(s.physical_max - s.physical_min) / (s.digital_max - s.digital_min)
                     for s in edfio.read_edf(path).signals])


# --------------------------------------------------------------------------------------- strict header
_TAL = re.compile(rb"[+-]\d+(\.\d+)?(\x15\d+(\.\d+)?)?\x14[^\x14\x00]*(\x14[^\x14\x00]*)*\x14\x00")


def check_edf_plus(path: Path) -> dict:
    """Check the file against the EDF+ spec field by field; return the parsed main header."""
    raw = path.read_bytes()
    ns = int(raw[252:256])
    header = raw[: 256 * (ns + 1)]
    assert all(32 <= b < 127 for b in header), "header must be printable ASCII only"
    fields = dict(version=header[0:8], patient=header[8:88], recording=header[88:168], date=header[168:176],
                  time=header[176:184], nbytes=header[184:192], reserved=header[192:236], n_rec=header[236:244],
                  dur=header[244:252])
    assert fields["version"] == b"0       "
    assert int(fields["nbytes"]) == len(header)
    assert fields["reserved"].startswith(b"EDF+C") and fields["reserved"][5:].strip() == b""
    assert re.fullmatch(rb"\d\d\.\d\d\.\d\d", fields["date"]) and re.fullmatch(rb"\d\d\.\d\d\.\d\d", fields["time"])
    assert re.fullmatch(rb"Startdate \d\d-[A-Z]{3}-\d{4} \S+ \S+ \S+ *", fields["recording"])
    col = {}
    at = 256
    for name, width in (("label", 16), ("transducer", 80), ("dim", 8), ("pmin", 8), ("pmax", 8), ("dmin", 8),
                        ("dmax", 8), ("prefilter", 80), ("spr", 8), ("reserved", 32)):
        col[name] = [header[at + i * width: at + (i + 1) * width].decode() for i in range(ns)]
        at += ns * width
    assert at == len(header)
    labels = [s.strip() for s in col["label"]]
    assert labels.count("EDF Annotations") == 1
    for i in range(ns):
        assert float(col["pmin"][i]) < float(col["pmax"][i]), "physical range must not be empty"
        assert (int(col["dmin"][i]), int(col["dmax"][i])) == (-32768, 32767), "16-bit digital range"
        if labels[i] != "EDF Annotations":
            assert col["dim"][i].strip() == "uV"
    spr = [int(s) for s in col["spr"]]
    n_rec, dur = int(fields["n_rec"]), float(fields["dur"])
    rec_bytes = 2 * sum(spr)
    assert len(raw) - len(header) == n_rec * rec_bytes, "the record count must match the file size"
    ann = labels.index("EDF Annotations")
    a0 = 2 * sum(spr[:ann])
    tals = []
    for r in range(n_rec):
        block = raw[len(header) + r * rec_bytes + a0: len(header) + r * rec_bytes + a0 + 2 * spr[ann]]
        first = f"+{r * dur:g}".encode() + b"\x14\x14\x00"
        assert block.startswith(first), f"record {r} must open with its timekeeping TAL {first!r}"
        body = block.rstrip(b"\x00") + b"\x00"  # TALs end to end, then zero padding
        assert b"".join(m.group(0) for m in _TAL.finditer(body)) == body, f"record {r}: malformed TAL"
        tals += [m.group(0) for m in _TAL.finditer(block[len(first):])]
    return {**{k: v.decode().strip() for k, v in fields.items()}, "spr": spr, "labels": labels, "tals": tals}


def test_header_follows_the_edf_plus_spec(arc, tmp_path):
    out = tmp_path / "x.edf"
    rep = export_edf(arc, out)
    h = check_edf_plus(out)
    assert h["patient"] == "X X X X"  # anonymous unless the caller names the patient
    assert h["date"] == "06.01.25" and h["time"] == "09.00.00" and h["recording"].startswith("Startdate 06-JAN-2025")
    assert h["labels"] == ["F3", "C3", "EDF Annotations"] and h["spr"][:2] == [FS, FS]
    assert rep.start == int(T0) and rep.record_s == 1 and rep.n_records == 121
    assert rep.n_events == 4 and rep.n_gaps == 3  # first quarter second, the 30-s gap, the last record's tail
    assert len(h["tals"]) == 7


def test_patient_field_can_be_given_and_is_checked(arc, tmp_path):
    export_edf(arc, tmp_path / "x.edf", patient="MCH-0234567 F 02-MAY-1951 Haagse_Harry")
    assert check_edf_plus(tmp_path / "x.edf")["patient"] == "MCH-0234567 F 02-MAY-1951 Haagse_Harry"
    with pytest.raises(EegmonError, match="patient must be at most 80 printable ASCII"):
        export_edf(arc, tmp_path / "y.edf", patient="Zoë X X X")
    assert not (tmp_path / "y.edf").exists()


# --------------------------------------------------------------------------------------- readers agree
def test_mne_edfio_and_eegmon_read_the_archive_back(arc, tmp_path):
    out = tmp_path / "x.edf"
    rep = export_edf(arc, out)
    _, uv = arc.read(rep.start, rep.stop)
    has = ~np.isnan(uv)
    step = _step(out)[:, None]
    tol = np.broadcast_to(step / 2 + 1e-9, uv.shape)

    raw = mne.io.read_raw_edf(out, preload=True, verbose="error")
    assert raw.info["sfreq"] == FS and raw.ch_names == ["F3", "C3"]
    assert raw.info["meas_date"] == dt.datetime.fromtimestamp(rep.start, dt.UTC)
    x_mne = raw.get_data() * 1e6
    assert np.all(np.abs(x_mne - uv)[has] <= tol[has])

    e = edfio.read_edf(out)
    x_edfio = np.array([s.data for s in e.signals])
    assert np.all(np.abs(x_edfio - uv)[has] <= tol[has])

    src = open_recording(out)
    assert src.kind == "edf" and src.fs == FS and src.segments[0].start == rep.start
    x_own = np.concatenate([c.T for _, c in src.chunks(3600)], axis=1)
    assert np.all(np.abs(x_own - uv)[has] <= tol[has])

    # the gap is flat at mid-range in the file and covered by BAD_ACQ_SKIP, in every reader
    mid = np.array([(s.physical_min + s.physical_max) / 2 for s in e.signals])[:, None]
    assert np.allclose(np.where(has, mid, x_mne), mid, atol=float(step.max()))
    want = sorted((round(a.onset - rep.start, 3), a.duration, event_text(a))
                  for a in arc.annotations() + arc.detections())
    got_mne = sorted((round(o, 3), d, t) for o, d, t in zip(raw.annotations.onset, raw.annotations.duration,
                                                            raw.annotations.description, strict=True)
                     if t != GAP_DESCRIPTION)
    got_edfio = sorted((round(a.onset, 3), a.duration, a.text) for a in e.annotations if a.text != GAP_DESCRIPTION)
    got_own = sorted((round(a.onset - rep.start, 3), a.duration, a.original_label) for a in src.annotations
                     if a.original_label != GAP_DESCRIPTION)
    assert got_mne == got_edfio == got_own == want
    assert "sz [detector:ll, rejected, p=0.91]" in {t for *_, t in want}  # rejected reads as rejected
    gaps = [(o, d) for o, d, t in zip(raw.annotations.onset, raw.annotations.duration, raw.annotations.description,
                                      strict=True) if t == GAP_DESCRIPTION]
    in_gap = np.zeros(uv.shape[1], bool)
    for o, d in gaps:
        in_gap[int(round(o * FS)): int(round((o + d) * FS))] = True
    assert np.array_equal(in_gap, ~has[0])
    # MNE skips the gaps by itself: filtering keeps the data on both sides finite and rejection drops them
    raw.filter(1.0, 40.0, verbose="error")
    assert raw.get_data(reject_by_annotation="omit").shape[1] == int(has[0].sum())


def _edfbrowser_errors(path: Path) -> list[str]:
    """Open ``path`` in EDFbrowser (offscreen, remote control) and return its error queue."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    home = tempfile.mkdtemp(prefix="edfbrowser-")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=home, XDG_RUNTIME_DIR=home)
    proc = subprocess.Popen(["edfbrowser", f"--rc-host-port={port}"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=30)
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("EDFbrowser's remote-control port never opened")
        with conn, conn.makefile("rwb") as f:
            def ask(command: str) -> str:
                f.write(command.encode() + b"\n")
                f.flush()
                return f.readline().decode().strip() if command.endswith("?") else ""

            ask(f"FILe:OPEn {path}")
            while ask("*OPC?") != "1":  # busy while it reads the file
                time.sleep(0.05)
            errors = []
            while (err := ask("SYStem:ERRor?")) not in ("0", "") and len(errors) < 10:
                errors.append(err)
            return errors
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.skipif(shutil.which("edfbrowser") is None, reason="EDFbrowser not installed (apt install edfbrowser)")
@pytest.mark.timeout(120)
def test_edfbrowser_opens_the_export(arc, tmp_path):
    out = tmp_path / "x.edf"
    export_edf(arc, out)
    assert _edfbrowser_errors(out) == []
    bad = tmp_path / "bad.edf"  # the check can fail: a non-ASCII byte in the header is refused (106)
    raw = bytearray(out.read_bytes())
    raw[20] = 0xE9
    bad.write_bytes(bytes(raw))
    assert _edfbrowser_errors(bad) == ["106"]


@pytest.mark.skipif(shutil.which("edfbrowser") is None, reason="EDFbrowser not installed (apt install edfbrowser)")
@pytest.mark.timeout(120)
def test_edfbrowser_opens_a_rate_needing_100_s_records(tmp_path):
    with make_archive(tmp_path / "p.h5", fs=173.61, seconds=(200, 100), n_channels=4) as a:
        export_edf(a, tmp_path / "x.edf")
    assert check_edf_plus(tmp_path / "x.edf")["spr"][:4] == [17361] * 4
    assert _edfbrowser_errors(tmp_path / "x.edf") == []


# --------------------------------------------------------------------------------------- round trip
def _round_trip(arc: Archive, folder: Path, start=None, stop=None, channels=None) -> None:
    """archive -> EDF -> 'eegmon import' into a new archive: samples within quantisation, same annotations."""
    out = folder / "x.edf"
    rep = export_edf(arc, out, start, stop, channels=channels)
    check_edf_plus(out)
    names = channels or list(arc.channels)
    assert main(["import", str(out), "-o", str(folder / "back.h5"), "-q"]) == 0
    with Archive.open(folder / "back.h5") as back:
        assert back.channels == tuple(names) and back.fs == arc.fs
        _, a = arc.read(rep.start, rep.stop, names)
        _, b = back.read(rep.start, rep.stop, names)
        has = ~np.isnan(a)
        step = _step(out)[:, None]
        assert np.all((np.abs(a - b) <= step / 2 + 1e-6)[has])
        # the events of the file's span: whole seconds, whole records around the requested one
        want = sorted((round(max(e.onset, rep.start), 4), event_text(e))
                      for e in arc.annotations(rep.start, rep.stop) + arc.detections(rep.start, rep.stop))
        got = sorted((round(e.onset, 4), e.original_label) for e in back.annotations()
                     if e.original_label != GAP_DESCRIPTION)
        assert got == want


def test_round_trip_through_eegmon_import(arc, tmp_path):
    _round_trip(arc, tmp_path)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fs=st.sampled_from([207.0, 256.0, 173.61, 250.5, 100.0]), n_channels=st.integers(1, 4),
       seg=st.tuples(st.integers(5, 120), st.integers(1, 60)), gap=st.floats(0.0, 40.0),
       frac=st.floats(0.0, 0.999), span=st.tuples(st.floats(0, 0.95), st.floats(0, 1)), seed=st.integers(0, 99),
       subset=st.booleans())
def test_round_trip_random_spans_channels_and_rates(fs, n_channels, seg, gap, frac, span, seed, subset):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with make_archive(folder / "p.h5", fs=fs, n_channels=n_channels, seconds=seg, gap_s=gap,
                          t0=START.timestamp() + frac, seed=seed) as a:
            lo, hi = sorted(span)
            start = a.start + lo * (a.stop - a.start)
            stop = max(a.start + hi * (a.stop - a.start), start + 1.0)
            assume(np.isfinite(a.read(start, stop)[1]).any())  # a span wholly in the gap is refused (tested below)
            channels = list(a.channels[::-1]) if subset else None
            _round_trip(a, folder, start, stop, channels)


# --------------------------------------------------------------------------------------- layout and memory
@pytest.mark.parametrize(("fs", "layout"), [(207, (1, 207)), (256.0, (1, 256)), (173.61, (100, 17361)),
                                            (250.5, (2, 501)), (0.5, (2, 1))])
def test_record_holds_a_whole_number_of_samples(fs, layout):
    assert record_layout(fs) == layout


def test_a_rate_edf_cannot_hold_is_refused_clearly():
    with pytest.raises(EegmonError, match=r"EDF cannot hold a sampling rate of 333.33+\d* Hz"):
        record_layout(1000 / 3)


def test_physical_range_is_tight_per_channel(arc, tmp_path):
    out = tmp_path / "x.edf"
    rep = export_edf(arc, out)
    _, uv = arc.read(rep.start, rep.stop)
    for sig, x in zip(edfio.read_edf(out).signals, uv, strict=True):
        lo, hi = np.nanmin(x), np.nanmax(x)
        pad = max(0.01 * (hi - lo), 1.0)
        assert lo - pad - 1e-3 <= sig.physical_min <= lo - pad + 1e-6
        assert hi + pad - 1e-6 <= sig.physical_max <= hi + pad + 1e-3
    # the DC-offset channel keeps its own range instead of a shared full scale
    assert edfio.read_edf(out).signals[0].physical_min > 100


def test_blocks_join_seamlessly_and_memory_stays_bounded(tmp_path, monkeypatch):
    with make_archive(tmp_path / "p.h5", seconds=(900, 300), gap_s=95.5) as a:
        rep = export_edf(a, tmp_path / "one.edf")
        monkeypatch.setattr(interop, "_BLOCK_SAMPLES", FS * 7)  # 7-record blocks: many block edges
        tracemalloc.start()
        try:
            export_edf(a, tmp_path / "many.edf")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert (tmp_path / "one.edf").read_bytes() == (tmp_path / "many.edf").read_bytes()
    samples_bytes = 2 * (rep.stop - rep.start) * FS * 8  # the span as float64, what one read of it would take
    print(f"peak traced memory {peak / 1e6:.2f} MB for {samples_bytes / 1e6:.1f} MB of float64 samples")
    assert peak < samples_bytes / 4


def test_crowded_annotations_all_arrive_and_records_stay_small(arc, tmp_path):
    arc.close()
    with Archive.open(arc.path, "a") as a:
        a.add_detections([Annotation(T0 + 30 + i / 1000, 0.5, "sz", source=f"detector:d{i}", confidence=0.5)
                          for i in range(60)])
        out = tmp_path / "x.edf"
        export_edf(a, out)
    h = check_edf_plus(out)
    assert h["spr"][-1] * 2 < 60 * 40  # the TALs spread over records instead of one record's worth each
    texts = [t.text for t in edfio.read_edf(out).annotations]
    assert sum(t.startswith("sz [detector:d") for t in texts) == 60
    assert len(mne.io.read_raw_edf(out, verbose="error").annotations) == len(texts)


# --------------------------------------------------------------------------------------- refusals and CLI
def test_refusals(arc, tmp_path):
    out = tmp_path / "x.edf"
    out.write_bytes(b"keep")
    with pytest.raises(EegmonError, match="exists; pass overwrite=True"):
        export_edf(arc, out)
    assert out.read_bytes() == b"keep"
    export_edf(arc, out, overwrite=True)
    assert out.read_bytes()[:8] == b"0       "
    with pytest.raises(EegmonError, match="outside the recording"):
        export_edf(arc, tmp_path / "y.edf", arc.stop + 10, arc.stop + 20)
    with pytest.raises(EegmonError, match="must end after it starts"):
        export_edf(arc, tmp_path / "y.edf", arc.start + 10, arc.start + 5)
    with pytest.raises(EegmonError, match="wholly in gaps"):
        export_edf(arc, tmp_path / "y.edf", T0 + 65, T0 + 80)
    with pytest.raises(EegmonError, match="channels must be distinct names"):
        export_edf(arc, tmp_path / "y.edf", channels=["F3", "F3"])
    with pytest.raises(EegmonError, match="folder .* does not exist"):
        export_edf(arc, tmp_path / "nope" / "y.edf")
    assert not (tmp_path / "y.edf").exists()


@pytest.mark.parametrize(("channel", "t0", "match"), [
    ("Fp1-Référence", T0, "label of 'Fp1-Référence' must be at most 16 printable ASCII"),
    ("EEG Fp1-Ref-long-name", T0, "label of 'EEG Fp1-Ref-long-name' must be at most 16"),
    ("Fp1", dt.datetime(1984, 12, 31, 23, 0, tzinfo=dt.UTC).timestamp(), "EDF start dates run from 1985 to 2084"),
])
def test_what_edf_cannot_hold_is_refused(tmp_path, channel, t0, match):
    with Archive.create(tmp_path / "p.h5", [channel], FS) as a:
        a.append_segment(t0, digital(1, FS * 10), [0.1], [0.0])
        with pytest.raises(EegmonError, match=match):
            export_edf(a, tmp_path / "x.edf")
    assert not (tmp_path / "x.edf").exists()


def test_cli_export(arc, tmp_path, capsys):
    out = tmp_path / "x.edf"
    assert main(["export", str(arc.path), "-o", str(out), "--start", "10", "--stop", "2025-01-06T09:00:40",
                 "--channels", "C3"]) == 0
    assert "EDF+C from 2025-01-06T09:00:10+00:00 to 2025-01-06T09:00:40+00:00" in capsys.readouterr().out
    assert edfio.read_edf(out).labels == ("C3",)
    assert main(["export", str(arc.path), "-o", str(out)]) == 2  # exists
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--overwrite" in err and str(out) in err
    assert main(["export", str(arc.path), "-o", str(out), "--overwrite", "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["export", str(arc.path), "-o", str(tmp_path / "y.edf"), "--start", "500"]) == 2
    assert "must end after it starts" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:  # argparse's own usage error: exit 2, one line
        main(["export", str(arc.path), "-o", str(tmp_path / "y.edf"), "--start", "noon"])
    assert usage.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected an ISO 8601 time" in err
    assert not (tmp_path / "y.edf").exists()


_EXPORT_CHILD = textwrap.dedent("""
    import json, resource, sys
    from eegmon.archive import Archive
    from eegmon.archive.interop import export_edf
    with Archive.open(sys.argv[1]) as arc:
        rep = export_edf(arc, sys.argv[2])
    print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "n": rep.n_records}))
""")


@pytest.mark.timeout(300)
def test_peak_rss_flat_in_span_length(tmp_path):
    """8x the span in 8x the segment files (10-min segments) costs no more memory to export."""
    piece = digital(2, FS * 600)
    peaks = {}
    for n in (9, 72):
        path = tmp_path / f"s{n}.h5"
        with Archive.create(path, ["F3", "C3"], FS) as a:
            for k in range(n):
                a.append_segment(T0 + 600 * k, piece, GAINS, OFFSETS)
        proc = subprocess.run([sys.executable, "-c", _EXPORT_CHILD, str(path), str(tmp_path / f"s{n}.edf")],
                              capture_output=True, text=True, timeout=240, check=True)
        peaks[n] = json.loads(proc.stdout.strip().splitlines()[-1])
        assert peaks[n]["n"] == 600 * n + 1  # the quarter-second start adds one record
    print(f"peak RSS exporting 1.5 h: {peaks[9]['maxrss_kb'] / 1e3:.0f} MB, "
          f"12 h: {peaks[72]['maxrss_kb'] / 1e3:.0f} MB")
    assert peaks[72]["maxrss_kb"] < 1.2 * peaks[9]["maxrss_kb"] + 30_000, peaks  # 225 MB before the fix


def test_cli_shows_a_progress_bar_on_a_terminal_only(arc, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(interop, "_BLOCK_SAMPLES", FS * 30)  # 121 records in 30-record blocks: 5 blocks
    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    assert main(["export", str(arc.path), "-o", str(tmp_path / "x.edf")]) == 0
    assert "export x.edf" in term.text and "5/5" in term.text and "block" in term.text
    term.text = ""
    assert main(["export", str(arc.path), "-o", str(tmp_path / "x.edf"), "--overwrite", "-q"]) == 0
    assert term.text == ""
