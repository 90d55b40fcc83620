"""Import EDF/BDF files, device folders or a BIDS dataset into a recording archive.

Sources: EDF/EDF+/BDF files, device folders (every .edf/.bdf in the folder, ordered by start time,
with sidecar <stem>_events.tsv / <stem>_artifacts.tsv), or a BIDS dataset root. All sources make
one recording of one patient: same channels and sampling rate, no overlap between files.

Annotation files (--annotations): SzCORE/BIDS *.tsv, CHB-MIT *summary.txt, TUSZ *.csv_bi / *.csv,
EDF+ annotations in *.edf; labels are mapped onto the SzCORE vocabulary, the original kept.

Everything is checked before anything is written: on bad input the archive is left as it was.
Files imported before (same content fingerprint) are skipped, not duplicated.

examples:
  eegmon import /data/device -o patient01.h5
  eegmon import /data/device/new_day.edf -o patient01.h5 --append
  eegmon import chb01_03.edf chb01_04.edf -o chb01.h5 --annotations chb01-summary.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", metavar="SRC", help="EDF/BDF file, device folder or BIDS root")
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="ARCHIVE.h5",
        help="archive manifest to create (its data goes into ARCHIVE.h5.d/)",
    )
    parser.add_argument(
        "--append", action="store_true", help="add to an existing archive (files already in it are skipped)"
    )
    parser.add_argument(
        "--annotations", nargs="+", default=[], metavar="FILE", help="annotation files to import with the recording"
    )
    parser.add_argument("--subject", default=None, help="BIDS subject to import (needed when the dataset has several)")
    parser.add_argument(
        "--max-segment-hours",
        type=float,
        default=24.0,
        help="split longer files into segments of at most this length; a crash loses at most one segment (default: 24)",
    )


def _read_sources(sources: list[str], subject: str | None):
    from ..errors import EegmonError
    from ..io import read_bids, read_device_folder, read_edf
    from ..io.device_folder import combine_recordings, sidecar_annotations

    recs = []
    for src in sources:
        path = Path(src)
        if path.is_dir() and (path / "dataset_description.json").is_file():
            runs = read_bids(path, subjects=[subject] if subject else None)
            subs = sorted({r.subject for r in runs})
            if len(subs) > 1:
                raise EegmonError(
                    f"BIDS dataset has {len(subs)} subjects {subs}; an archive holds one patient, "
                    "choose one with --subject.",
                    path,
                )
            recs += [r.recording for r in runs]
        elif path.is_dir():
            recs.append(read_device_folder(path))
        else:
            rec = read_edf(path)
            rec.annotations.extend(sidecar_annotations(Path(rec.meta["source"]), rec.start, rec.stop - rec.start))
            recs.append(rec)
    return combine_recordings(recs) if len(recs) > 1 else recs[0]


def _spans(rec, archive) -> dict[str, tuple[float, float]]:
    spans: dict[str, list[float]] = {}
    rows = [(s.source, s.start, s.start + s.n_samples / rec.fs) for s in rec.segments]
    if archive is not None:
        rows += [(s.source, s.start, s.stop) for s in archive.segments]
    for src, a, b in rows:
        name = Path(src).name
        lo, hi = spans.get(name, [a, b])
        spans[name] = [min(lo, a), max(hi, b)]
    return {k: (a, b - a) for k, (a, b) in spans.items()}


def import_sources(out: Path, sources: list[str], *, append: bool = False, subject: str | None = None,
                   annotation_files: list[str] = (), max_segment_s: float = 24 * 3600.0, quiet: bool = True):
    """Import recordings into the archive ``out`` (created, or added to with ``append``).

    Everything is read and checked before anything is written. Returns the import report.
    """
    from ..archive import Archive
    from ..errors import EegmonError
    from ..io import read_annotation_file

    if out.exists() and not append:
        raise EegmonError("archive already exists; use --append to add to it.", out)
    if append and not out.exists():
        raise EegmonError("--append given but the archive does not exist.", out)
    if not max_segment_s > 0:
        raise EegmonError(f"--max-segment-hours must be > 0, got {max_segment_s / 3600}.")
    rec = _read_sources(sources, subject)
    existing = Archive.open(out, "r") if append else None
    try:
        if existing is not None:
            existing.check_recording(rec)
        spans = _spans(rec, existing)
        extra = []
        for ann in annotation_files:
            extra += read_annotation_file(ann, spans)
    finally:
        if existing is not None:
            existing.close()
    archive = (
        Archive.open(out, "a")
        if append
        else Archive.create(out, rec.channels, rec.fs, meta={"patient": rec.meta.get("patient", "") or ""})
    )
    with archive:
        report = archive.import_recording(rec, annotations=extra, quiet=quiet, max_segment_s=max_segment_s)
    return rec, report


def run(args: argparse.Namespace) -> int:
    out = Path(args.output)
    rec, report = import_sources(out, args.sources, append=args.append, subject=args.subject,
                                 annotation_files=args.annotations, max_segment_s=args.max_segment_hours * 3600,
                                 quiet=args.quiet)
    if not args.quiet:
        print(
            f"{out}: imported {len(report.imported)} file(s), {report.n_samples / rec.fs / 3600:.2f} h in "
            f"{report.n_segments} segment(s); skipped {len(report.skipped)} already imported; "
            f"{report.n_annotations} annotation(s)."
        )
    return 0
