"""Fuzz the EDF reader and annotation parsers: a parsed result or EegmonError, nothing else."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from _archive_helpers import START, digital, write_edf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegmon.errors import EegmonError
from eegmon.io import read_annotation_file, read_edf
from eegmon.recording import Recording

T0 = START.timestamp()
FUZZ = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _valid_edf() -> bytes:
    with tempfile.TemporaryDirectory() as d:
        p = write_edf(Path(d) / "v.edf", digital(2, 207 * 4), annotations=[(1.0, 2.0, "Seizure")])
        return p.read_bytes()


VALID = _valid_edf()
HEADER_LEN = 256 * 4  # 2 signals + annotation signal + main header


def _read_fully(path: Path) -> None:
    try:
        rec = read_edf(path)
    except EegmonError as err:
        assert str(path) in str(err)
        return
    assert isinstance(rec, Recording)
    for seg in rec.segments:
        for _, chunk in seg.iter_digital(300):
            assert chunk.shape[0] == len(rec.channels)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(tmp_path, data):
    path = tmp_path / "f.edf"
    path.write_bytes(data)
    _read_fully(path)


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.integers(0, HEADER_LEN - 1), st.binary(min_size=1, max_size=12)), min_size=1, max_size=4
    ),
    cut=st.one_of(st.none(), st.integers(0, len(VALID))),
)
def test_header_edits(tmp_path, edits, cut):
    raw = bytearray(VALID)
    for at, patch in edits:
        raw[at : at + len(patch)] = patch
    if cut is not None:
        raw = raw[:cut]
    path = tmp_path / "f.edf"
    path.write_bytes(bytes(raw))
    _read_fully(path)


@FUZZ
@given(
    field=st.sampled_from([(168, 8), (176, 8), (184, 8), (236, 8), (244, 8), (252, 4)]),
    text=st.text(alphabet="0123456789.-+: eE", min_size=0, max_size=8),
)
def test_numeric_header_fields(tmp_path, field, text):
    at, width = field
    raw = bytearray(VALID)
    raw[at : at + width] = text.encode().ljust(width)[:width]
    path = tmp_path / "f.edf"
    path.write_bytes(bytes(raw))
    _read_fully(path)


LINES = st.lists(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40), max_size=6)


def _read_or_clear_error(path):
    """An annotation file's events (finite onsets, non-negative durations), or [] when it is refused with
    an error that names the file."""
    try:
        events = read_annotation_file(path, {"x.edf": (T0, 30.0)})
    except EegmonError as err:
        assert str(path) in str(err)
        return []
    for ev in events:
        assert np.isfinite(ev.onset) and ev.duration >= 0
    return events


@FUZZ
@pytest.mark.parametrize(
    "name,header",
    [
        ("x_events.tsv", "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration"),
        ("x.csv_bi", "channel,start_time,stop_time,label,confidence"),
        ("x-summary.txt", "File Name: x.edf"),
    ],
)
@given(lines=LINES, raw=st.binary(max_size=200), use_raw=st.booleans())
def test_annotation_parsers(tmp_path, name, header, lines, raw, use_raw):
    path = tmp_path / name
    path.write_bytes(raw if use_raw else ("\n".join([header, *lines]) + "\n").encode())
    _read_or_clear_error(path)


VALID_TEXT = {
    "x_events.tsv": "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration\n"
    "1.5\t10.0\tsz_foc_ia\t0.9\tEEG1,EEG2\t2025-01-06 09:00:00\t30.0\n",
    "x.csv_bi": "# version = csv_v1.0.0\n# duration = 30.0000 secs\n"
    "channel,start_time,stop_time,label,confidence\nTERM,0.0000,5.0000,bckg,1.0000\nTERM,5.0000,9.5000,cpsz,1.0000\n",
    "x-summary.txt": "File Name: x.edf\nFile Start Time: 09:00:00\nFile End Time: 09:00:30\n"
    "Number of Seizures in File: 1\nSeizure Start Time: 5 seconds\nSeizure End Time: 9 seconds\n",
}


@FUZZ
@pytest.mark.parametrize("name", VALID_TEXT)
@given(edits=st.lists(st.tuples(st.integers(0, 200), st.text(max_size=4)), min_size=1, max_size=4))
def test_annotation_edits(tmp_path, name, edits):
    text = VALID_TEXT[name]
    for at, patch in edits:
        at = at % (len(text) + 1)
        text = text[:at] + patch + text[at + len(patch) :]
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    for ev in _read_or_clear_error(path):
        assert T0 - 1e-3 <= ev.onset and ev.offset <= T0 + 30 + 1e-3
