"""Clinical montages: electrode names as exporters write them, exact derivations, missing electrodes.

Derivations are checked on electrode potentials: each electrode has a random potential ``v``,
a referential channel ``A`` holds ``v[A] - v[ref]`` and a bipolar channel ``A-B`` holds
``v[A] - v[B]``; a derivation ``A-B`` must come out as ``v[A] - v[B]`` however the file stores
its channels, in any order and case.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from _archive_helpers import REALDATA, digital, write_edf
from eegmon.viewer.model import ViewerModel
from hypothesis import given, settings
from hypothesis import strategies as st

from eegmon.archive import Archive
from eegmon.errors import EegmonError
from eegmon.io import import_sources
from eegmon.montage import (
    LONGITUDINAL,
    MONTAGES,
    TRANSVERSE,
    available_montages,
    electrode,
    make_montage,
    parse_channel,
)

TEN_TWENTY = ("Fp1", "Fp2", "F7", "F3", "Fz", "F4", "F8", "T7", "C3", "Cz", "C4", "T8", "P7", "P3", "Pz", "P4",
              "P8", "O1", "O2")
OLD = {"T7": "T3", "T8": "T4", "P7": "T5", "P8": "T6"}
# channel sets as real files write them
TUH_REF = [f"EEG {OLD.get(e, e).upper()}-REF" for e in TEN_TWENTY] + ["EEG A1-REF", "EEG A2-REF", "EKG1", "PHOTIC PH"]
TUH_LE = [f"EEG {OLD.get(e, e).upper()}-LE" for e in TEN_TWENTY] + ["EEG T1-LE", "EEG T2-LE"]
CHBMIT = ["FP1-F7", "F7-T7", "T7-P7", "P7-O1", "FP1-F3", "F3-C3", "C3-P3", "P3-O1", "FP2-F4", "F4-C4", "C4-P4",
          "P4-O2", "FP2-F8", "F8-T8", "T8-P8", "P8-O2", "FZ-CZ", "CZ-PZ", "P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8",
          "T8-P8"]  # chb01's header: T8-P8 twice
EEGMMI = ["Fc5.", "Fc3.", "Fc1.", "Fcz.", "Fc2.", "Fc4.", "Fc6.", "C5..", "C3..", "C1..", "Cz..", "C2..", "C4..",
          "C6..", "Fp1.", "Fpz.", "Fp2.", "F7..", "F3..", "Fz..", "F4..", "F8..", "T7..", "T8..", "P7..", "P3..",
          "Pz..", "P4..", "P8..", "O1..", "O2.."]  # PhysioNet EEG Motor Movement/Imagery labels (a subset)
MUSE = ["TP9", "AF7", "AF8", "TP10"]


def _values(channels, potentials: dict[str, np.ndarray], ref: np.ndarray) -> np.ndarray:
    """The samples each channel would hold for the given electrode potentials."""
    rows = []
    for name in channels:
        pair = parse_channel(name)
        if pair is None:
            rows.append(np.full(ref.shape, 7.0))  # not EEG: must never enter a derivation
            continue
        a, b = pair
        rows.append(potentials[a] - (ref if b == "<ref>" else potentials[b]))
    return np.array(rows)


def _potentials(rng, names) -> dict[str, np.ndarray]:
    return {e: rng.normal(0, 50, 64) for e in names}


@pytest.mark.parametrize(("name", "expected"), [
    ("Fp1", "Fp1"), ("FP1", "Fp1"), ("fp1", "Fp1"), ("FPZ", "Fpz"), ("CZ", "Cz"), ("T3", "T7"), ("t4", "T8"),
    ("T5", "P7"), ("T6", "P8"), ("TP10", "TP10"), ("AF7", "AF7"), ("FCz", "FCz"), ("A1", "A1"), ("ECG", None),
    ("E1", None), ("F11", None), ("", None)])
def test_electrode_names_in_any_case_with_the_old_aliases(name, expected):
    assert electrode(name) == expected


@pytest.mark.parametrize(("label", "expected"), [
    ("EEG FP1-REF", ("Fp1", "<ref>")), ("EEG T3-LE", ("T7", "<ref>")), ("Fp1", ("Fp1", "<ref>")),
    ("FP1-F7", ("Fp1", "F7")), ("fc5.", ("FC5", "<ref>")), ("Cz..", ("Cz", "<ref>")), ("EEG Fp1-A1", ("Fp1", "A1")),
    ("E1-E2", None), ("EKG1", None), ("Fp1-Fp1", None), ("PHOTIC PH", None)])
def test_channel_labels_as_exporters_write_them(label, expected):
    assert parse_channel(label) == expected


@given(st.sampled_from(TEN_TWENTY), st.sampled_from(["", "EEG ", "eeg "]), st.sampled_from(["", "-REF", "-Ref", "-LE",
       " REF", "-AR", "."]), st.randoms(use_true_random=False))
def test_any_spelling_of_an_electrode_parses_to_it(e, prefix, suffix, rnd):
    name = OLD.get(e, e) if rnd.random() < 0.5 else e
    spelled = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in name)
    assert parse_channel(prefix + spelled + suffix) == (e, "<ref>")


@settings(max_examples=40, deadline=None)
@given(st.permutations(TUH_REF), st.integers(0, 2**32 - 1))
def test_longitudinal_and_transverse_are_exact_in_any_channel_order(channels, seed):
    rng = np.random.default_rng(seed)
    v = _potentials(rng, TEN_TWENTY + ("A1", "A2"))
    x = _values(channels, v, ref=rng.normal(0, 50, 64))
    for name, pairs in (("longitudinal", LONGITUDINAL), ("transverse", TRANSVERSE)):
        m = make_montage(name, channels)
        assert m.labels == tuple(f"{a}-{b}" for a, b in pairs) and m.notes == ()  # the clinical order
        np.testing.assert_allclose(m.apply(x), [v[a] - v[b] for a, b in pairs], atol=1e-9)


def test_the_chbmit_bipolar_chains_give_the_double_banana_and_join_left_to_right():
    rng = np.random.default_rng(1)
    v = _potentials(rng, TEN_TWENTY + ("FT9", "FT10"))
    x = _values(CHBMIT, v, ref=np.zeros(64))
    m = make_montage("longitudinal", CHBMIT)
    np.testing.assert_allclose(m.apply(x), [v[a] - v[b] for a, b in LONGITUDINAL], atol=1e-9)
    assert all(np.count_nonzero(row) == 1 for row in m.weights)  # each is one of the file's channels
    t = make_montage("transverse", CHBMIT)
    # Fp1-Fp2 through the FT9-FT10 link; the midline (Fz, Cz, Pz) is joined to nothing else
    assert "Fp1-Fp2" in t.labels and "F3-Fz" not in t.labels
    assert t.notes and "no channel joins" in t.notes[0] and "F3-Fz" in t.notes[0]
    np.testing.assert_allclose(t.apply(x), [v[lab.split("-")[0]] - v[lab.split("-")[1]] for lab in t.labels],
                               atol=1e-9)
    assert "average" not in available_montages(CHBMIT)  # no referential channel to average


@pytest.mark.skipif(not (REALDATA / "annotations" / "chbmit" / "chb01-summary.txt").is_file(),
                    reason="../shared/realdata is absent (a user's clone has none)")
def test_the_real_chbmit_header_gives_the_double_banana():
    summary = (REALDATA / "annotations" / "chbmit" / "chb01-summary.txt").read_text()
    channels = [line.split(": ", 1)[1].strip() for line in summary.splitlines() if line.startswith("Channel ")][:23]
    assert channels == CHBMIT
    assert make_montage("longitudinal", channels).labels == tuple(f"{a}-{b}" for a, b in LONGITUDINAL)


@settings(max_examples=30, deadline=None)
@given(st.sets(st.sampled_from(TEN_TWENTY), min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_missing_electrodes_leave_derivations_out_with_a_note_never_a_wrong_pair(gone, seed):
    rng = np.random.default_rng(seed)
    channels = [c for c in TUH_LE if parse_channel(c)[0] not in gone]
    v = _potentials(rng, TEN_TWENTY + ("T1", "T2"))
    x = _values(channels, v, ref=rng.normal(0, 50, 64))
    for name, pairs in (("longitudinal", LONGITUDINAL), ("transverse", TRANSVERSE)):
        kept = [(a, b) for a, b in pairs if a not in gone and b not in gone]
        m = make_montage(name, channels)
        assert m.labels == tuple(f"{a}-{b}" for a, b in kept)
        if kept:
            np.testing.assert_allclose(m.apply(x), [v[a] - v[b] for a, b in kept], atol=1e-9)
        if len(kept) < len(pairs):
            assert len(m.notes) == 1
            named = m.notes[0]
            assert all(e in named for e in gone if any(e in p for p in pairs))


def test_average_reference_leaves_ears_and_non_eeg_channels_out():
    rng = np.random.default_rng(2)
    v = _potentials(rng, TEN_TWENTY + ("A1", "A2"))
    x = _values(TUH_REF, v, ref=rng.normal(0, 50, 64))
    m = make_montage("average", TUH_REF)
    assert len(m.labels) == 19 and m.labels[:3] == ("Fp1-avg", "Fp2-avg", "F7-avg") and "A1-avg" not in m.labels
    mean = np.mean([v[e] for e in TEN_TWENTY], axis=0)
    np.testing.assert_allclose(m.apply(x), [v[lab[:-4]] - mean for lab in m.labels], atol=1e-9)
    assert not m.weights[:, [TUH_REF.index("EKG1"), TUH_REF.index("PHOTIC PH")]].any()


def test_sets_without_the_double_banana_electrodes():
    assert available_montages(MUSE) == ["referential", "average"]  # a 10-10 headband: no chain of its sites
    assert make_montage("bipolar", MUSE).labels == ()  # never its channels chained in file order
    m = make_montage("longitudinal", EEGMMI)
    assert m.labels[:4] == ("Fp1-F7", "F7-T7", "T7-P7", "P7-O1") and len(m.labels) == 18
    device = ["E1", "E2", "E3", "E4"]
    assert available_montages(device) == ["referential", "device"]
    assert make_montage("bipolar", device).labels == ("E1-E2", "E2-E3", "E3-E4")
    assert make_montage("bipolar", ["E1-E2", "E2-E3"]).labels == ("E1-E3",)
    assert make_montage("device", TUH_REF).labels == ()  # 10-20 channels are not chained in file order


@given(st.integers(0, 2**32 - 1), st.sampled_from(["longitudinal", "transverse", "average"]))
def test_bounds_hold_every_derivation_of_samples_within_the_channel_bounds(seed, name):
    rng = np.random.default_rng(seed)
    m = make_montage(name, TUH_REF)
    lo = rng.normal(-50, 20, (len(TUH_REF), 8))
    hi = lo + rng.uniform(0, 80, lo.shape)
    x = lo + rng.uniform(0, 1, (16,) + lo.shape) * (hi - lo)
    b_lo, b_hi = m.bounds(lo, hi)
    y = np.einsum("dc,scn->sdn", m.weights, x)
    assert (y >= b_lo - 1e-9).all() and (y <= b_hi + 1e-9).all()


def test_a_montage_file_in_toml_and_json(tmp_path):
    rng = np.random.default_rng(3)
    v = _potentials(rng, TEN_TWENTY + ("A1", "A2"))
    ref = rng.normal(0, 50, 64)
    x = _values(TUH_REF, v, ref)
    toml = tmp_path / "temporal.toml"
    toml.write_text('name = "temporal"\nderivations = ["Fp1-F7", "T3-T5", "T7-avg", '
                    '{label = "Cz (ref)", positive = "Cz"}, "Fp1-X9"]\n')
    with pytest.raises(EegmonError, match=r"temporal\.toml.*derivation 5.*'X9' is not a 10-20"):
        make_montage(toml, TUH_REF)
    toml.write_text('name = "temporal"\nderivations = ["Fp1-F7", "T3-T5", "T7-avg", '
                    '{label = "Cz (ref)", positive = "Cz"}, "F7-FT9"]\n')
    m = make_montage(toml, TUH_REF)
    assert m.name == "temporal" and m.labels == ("Fp1-F7", "T3-T5", "T7-avg", "Cz (ref)")
    assert m.notes == ("1 derivation(s) left out: no FT9 in this recording (F7-FT9)",)
    mean = np.mean([v[e] for e in TEN_TWENTY], axis=0)
    np.testing.assert_allclose(m.apply(x), [v["Fp1"] - v["F7"], v["T7"] - v["P7"], v["T7"] - mean, v["Cz"] - ref],
                               atol=1e-9)
    js = tmp_path / "m.json"
    js.write_text(json.dumps({"derivations": [{"positive": "O1", "negative": "O2"}]}))
    assert make_montage(js, TUH_REF).labels == ("O1-O2",) and make_montage(js, TUH_REF).name == "m"
    for text, why in (("derivations = [", "not a valid TOML"), ("name = 'x'", "non-empty list 'derivations'"),
                      ("derivations = [3]", "derivation 1 must be a string")):
        toml.write_text(text)
        with pytest.raises(EegmonError, match=why):
            make_montage(toml, TUH_REF)
    with pytest.raises(EegmonError, match="cannot read the montage file"):
        make_montage(tmp_path / "missing.toml", TUH_REF)
    with pytest.raises(EegmonError, match="montage must be one of"):
        make_montage("laplacian", TUH_REF)
    assert set(MONTAGES) >= set(available_montages(TUH_REF))


def test_the_viewer_shows_the_double_banana_of_a_real_edf(tmp_path):
    """A 19-channel clinical EDF written with the old names, in an exporter's order, read back."""
    labels = [f"EEG {OLD.get(e, e).upper()}-REF" for e in sorted(TEN_TWENTY)]
    data = digital(len(labels), 256 * 60, seed=4)
    edf = write_edf(tmp_path / "clinical.edf", data, fs=256, labels=labels)
    import_sources(tmp_path / "c.h5", [edf], quiet=True)
    with Archive.open(tmp_path / "c.h5", "r") as arc:
        model = ViewerModel(arc, n_pixels=800)
        assert model.montages() == ["referential", "longitudinal", "transverse", "average"]
        model.set_page_size(10)
        plain = model.page_data()
        model.set_montage("longitudinal")
        page = model.page_data()
        assert page.labels == tuple(f"{a}-{b}" for a, b in LONGITUDINAL) and model.montage_notes == ()
        at = {parse_channel(c)[0]: i for i, c in enumerate(plain.labels)}
        np.testing.assert_allclose(page.y, [plain.y[at[a]] - plain.y[at[b]] for a, b in LONGITUDINAL], atol=1e-6)
