"""Cross-validate the trainable detector: leave one seizure out, one patient out, or forward in time.

DATASET is a folder whose entries are patients: archives (*.h5), device folders or EDF files
(or give several paths). Seizures come from each recording's annotations (ground truth, sidecar
events.tsv, confirmed detections). Features are computed once per patient; every fold trains a
fresh random forest on its training part only and is scored on its test part with SzCORE.

schemes:
  loso         per patient, each seizure's block (cut halfway between seizures) held out in turn
  lopo         each patient held out in turn, trained on the others
  time-series  per patient, block k tested on a model trained on blocks before it only

examples:
  eegmon crossval data/patients --scheme lopo --json cv.json
  eegmon crossval patient01.h5 --scheme loso
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", nargs="+", metavar="DATASET", help="folder of patients, or patient paths")
    parser.add_argument("--scheme", default="loso", help="loso (default), lopo or time-series")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="write the evaluate-style JSON (event, sample, per_subject) plus the folds")
    parser.add_argument("--trees", type=int, default=60, help="trees per forest (default: 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def _patients(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        is_patient = p.is_file() or any(p.glob("*.edf")) or any(p.glob("*.bdf"))
        if p.is_dir() and not is_patient:
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in (".h5", ".edf", ".bdf") or
                          (q.is_dir() and (any(q.glob("*.edf")) or any(q.glob("*.bdf")))))
        else:
            out.append(p)
    return out


def summary_lines(doc: dict, scheme: str, n_folds: int, n_patients: int) -> list[str]:
    """What ``eegmon crossval`` prints: the folds, then the pooled scores as ``eegmon evaluate`` shows them.

    Parameters
    ----------
    doc : dict
        The evaluate-style document of the cross-validation (``event``, ``sample``).
    scheme : str
        The cross-validation scheme.
    n_folds, n_patients : int
        How many folds were scored, over how many patients.
    """
    from .evaluate import summary_lines as score_lines

    e = doc["event"]
    latency = "n/a" if e["latency_median_s"] is None else f"{e['latency_median_s']:.1f} s"
    return [f"{scheme}: {n_folds} folds over {n_patients} patient(s), {e['n_ref']} test seizures, "
            f"{e['hours']:.1f} test hours", *score_lines(doc), f"latency  median {latency}"]


def run(args: argparse.Namespace) -> int:
    from .._checks import check_option
    from ..detectors import DetectionModel
    from ..detectors.crossval import SCHEMES, cross_validate, patient_rows
    from ..errors import EegmonError
    from ..io import open_recording

    scheme = check_option("--scheme", args.scheme, SCHEMES)
    paths = _patients(args.dataset)
    if not paths:
        raise EegmonError("no recordings found (expected archives, device folders or EDF files).", args.dataset[0])
    template = DetectionModel("classifier", None, fs=207.0)
    patients = [patient_rows(p.stem if p.is_file() else p.name, open_recording(p), template, quiet=args.quiet)
                for p in paths]
    ev, folds = cross_validate(patients, scheme, seed=args.seed, n_estimators=args.trees, quiet=args.quiet)
    doc = ev.to_json()
    if args.json:
        args.json.write_text(json.dumps({**doc, "scheme": scheme, "folds": folds}, indent=2) + "\n")
    if not args.quiet:
        print("\n".join(summary_lines(doc, scheme, len(folds), len(patients))))
    return 0
