"""Train a seizure classifier from recordings with known seizures.

Each SRC (archive, EDF/BDF file or device folder) is one recording; its seizures come from its
annotations (ground truth, EDF+ annotations, sidecar events.tsv) and, for archives, from the
review: one seizure per review item (a seizure seen by several detectors and the ground truth is
counted once), confirmed items and annotated ones nobody rejected. --labels adds SzCORE
events.tsv files (absolute times from their dateTime).
Patient-specific: give one patient's recordings. Generic: give many patients'. The model file
is safe to share: JSON metadata plus the forest in the skops format (no pickle).

examples:
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
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="MODEL", help="model file to write")
    parser.add_argument("--fs", type=float, default=207.0,
                        help="processing rate of the model in Hz; inputs are resampled to it (default: 207)")
    parser.add_argument("--trees", type=int, default=60, help="number of trees (default: 60)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..detectors import DetectionModel, save_model
    from ..detectors.training import collect_rows, population_prior, train_classifier
    from ..errors import EegmonError
    from ..io import open_recording
    from ..io.events_tsv import read_events_tsv

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
