"""Train a seizure classifier from recordings with known seizures.

Each SRC (archive, EDF/BDF file or device folder) is one recording; its seizures come from its
annotations (ground truth, EDF+ annotations, sidecar events.tsv) and, for archives, from the
review: one seizure per review item (a seizure seen by several detectors and the ground truth is
counted once), confirmed items and annotated ones nobody rejected. --labels adds SzCORE
events.tsv files (absolute times from their dateTime).
Patient-specific: give one patient's recordings. Generic: give many patients'. The model file
is safe to share: JSON metadata plus the forest in the skops format (no pickle).

One reviewed archive: trains the patient's model from its review (confirmed seizure items are
seizures, rejected ones hard negatives, unreviewed detections are left out), blended with the
bundled generic model, and stores it as the archive's next model version with its lineage
(without -o), ready for 'eegmon detect ARCHIVE --model archive'. --list shows the versions.

examples:
  eegmon train patient01.h5                      # stored as the archive's next model version
  eegmon train patient01.h5 --list
  eegmon train patient01.h5 -o patient01.eegmon-model
  eegmon train recording.edf --labels recording_events.tsv -o my.eegmon-model
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SRC", help="archive (.h5), EDF/BDF file or device folder")
    parser.add_argument("--labels", nargs="+", default=[], type=Path, metavar="TSV",
                        help="extra SzCORE events.tsv files with seizures of these recordings")
    parser.add_argument("-o", "--output", type=Path, default=None, metavar="MODEL",
                        help="model file to write (optional for one archive: without it the model is stored as "
                             "the archive's next version)")
    parser.add_argument("--list", action="store_true", help="list the archive's model versions and their lineage")
    parser.add_argument("--patient-only", action="store_true",
                        help="one archive: the patient's forest alone, not blended with the generic model")
    parser.add_argument("--hard-weight", type=float, default=1.0,
                        help="one archive: sample weight of the rejected items' windows (default: 1)")
    parser.add_argument("--fs", type=float, default=207.0,
                        help="processing rate of the model in Hz; inputs are resampled to it (default: 207)")
    parser.add_argument("--trees", type=int, default=60, help="number of trees (default: 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def _list(archive: Path) -> int:
    from ..archive.models import read_registry

    registry = read_registry(archive)
    if not registry.versions:
        print(f"no model stored in {archive} yet (train one with 'eegmon train {archive}')")
        return 0
    for v in registry.versions:
        mark = "*" if v.id == registry.current else " "
        t = v.training
        facts = f"{t.get('seizures', '?')} seizures, {t.get('hours', '?')} h" if t else ""
        print(f"{mark} {v.id}  {v.created}  {v.describe()}; {v.review.get('left_out', 0)} left out; "
              f"base {v.base}; previous {v.previous or '-'}; {facts}")
    return 0


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..detectors import DetectionModel, save_model
    from ..detectors.training import collect_rows, population_prior, train_classifier
    from ..errors import EegmonError
    from ..io import open_recording, recording_kind
    from ..io.events_tsv import read_events_tsv

    single = len(args.sources) == 1 and recording_kind(Path(args.sources[0])) == "archive" and not args.labels
    if args.list:
        if not single:
            raise EegmonError("--list needs one archive (.h5) and nothing else.", args.sources[0])
        return _list(Path(args.sources[0]))
    if single:
        from ..detectors.retrain import train_from_review

        result = train_from_review(args.sources[0], output=args.output, trees=args.trees, seed=args.seed,
                                   hard_weight=args.hard_weight, blend=not args.patient_only, quiet=args.quiet)
        if not args.quiet:
            print(result.message(Path(args.sources[0]).name))
        return 0
    if args.output is None:
        raise EegmonError("-o MODEL is needed unless the source is one archive (its model is then stored in it).")
    extra = [ev for path in args.labels for ev in read_events_tsv(path).events if ev.is_seizure]
    if not args.output.parent.exists():
        raise EegmonError("the folder to write into does not exist.", args.output.parent)
    rng = np.random.default_rng(args.seed)
    sources = []
    for src in args.sources:
        source = open_recording(src)
        seizures = [a for a in source.annotations if a.is_seizure and a.status != "rejected"]
        seizures += [e for e in extra if source.start <= e.onset < source.stop]
        sources.append((source, seizures))
    # Two passes: the recordings' own background amplitude first (the baseline's prior while it
    # warms up), then the rows computed with that prior, as the model will run.
    bare = DetectionModel("classifier", None, fs=args.fs)
    prior = population_prior([collect_rows(s, sz, bare, rng=rng, quiet=args.quiet) for s, sz in sources])
    template = DetectionModel("classifier", None, fs=args.fs, prior=prior)
    parts = [collect_rows(s, sz, template, rng=rng, quiet=args.quiet) for s, sz in sources]
    model = train_classifier(parts, template=template, random_state=args.seed, n_estimators=args.trees,
                             training={"sources": [str(s) for s in args.sources]})
    save_model(model, args.output)
    if not args.quiet:
        t = model.training
        print(f"trained on {t['recordings']} recording(s), {t['hours']:.1f} h, {t['seizures']} seizures "
              f"({t['seizure_rows']} seizure / {t['background_rows']} background windows); wrote {args.output}")
    return 0
