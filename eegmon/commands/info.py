"""Summarise a recording archive: channels, span, segments and gaps, annotations, detections.

example:
  eegmon info patient01.h5
  eegmon info patient01.h5 --json
"""

from __future__ import annotations

import argparse
import json
from collections import Counter


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archive", metavar="ARCHIVE.h5", help="archive manifest written by 'eegmon import'")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def summary(archive) -> dict:
    """The facts ``eegmon info`` prints, as a dict."""
    from ..events import to_datetime

    segs = archive.segments
    gaps = archive.gaps
    recorded = archive.n_samples / archive.fs
    empty = not segs

    def iso(t: float) -> str | None:
        return None if empty else to_datetime(t).isoformat()

    size = archive.path.stat().st_size + sum(p.stat().st_size for p in archive.seg_dir.glob("seg_*.h5"))
    return {
        "path": str(archive.path),
        "channels": list(archive.channels),
        "fs": archive.fs,
        "start": iso(archive.start),
        "stop": iso(archive.stop),
        "span_h": 0.0 if empty else (archive.stop - archive.start) / 3600,
        "recorded_h": recorded / 3600,
        "segments": len(segs),
        "sources": len(archive.sources),
        "gaps": len(gaps),
        "longest_gap_s": max((b - a for a, b in gaps), default=0.0),
        "annotations": dict(Counter(a.label for a in archive.annotations())),
        "detections": len(archive.detections()),
        "size_mb": size / 1e6,
    }


def run(args: argparse.Namespace) -> int:
    from ..archive import Archive

    with Archive.open(args.archive, "r") as archive:
        info = summary(archive)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"archive    {info['path']}")
    print(f"channels   {', '.join(info['channels'])} @ {info['fs']:g} Hz")
    print(f"span       {info['start']} .. {info['stop']} ({info['span_h']:.2f} h, {info['recorded_h']:.2f} h recorded)")
    print(
        f"segments   {info['segments']} from {info['sources']} file(s); {info['gaps']} gap(s), longest "
        f"{info['longest_gap_s']:.1f} s"
    )
    labels = ", ".join(f"{k}: {v}" for k, v in sorted(info["annotations"].items())) or "none"
    print(f"annotations {labels}")
    print(f"detections {info['detections']}")
    print(f"size       {info['size_mb']:.1f} MB on disk")
    return 0
