"""Score detections against ground truth as SzCORE does (event and sample based).

REF and HYP are each an annotation file or a folder searched recursively for them (a folder may
mix formats; derivatives/ and sourcedata/ are skipped):
  SzCORE/BIDS  *_events.tsv (any *.tsv as a single file); duration from recordingDuration
  TUSZ         *.csv_bi, or per-channel *.csv (seizure = union over channels; a .csv beside a
               .csv_bi of the same recording is not read); duration from '# duration = ... secs'
Folders are paired by relative path without the format ending, else by recording name, so a TUSZ
tree pairs with the <stem>_events.tsv files of 'eegmon detect -o FOLDER'. A REF file without HYP
partner is scored as no detections (with a warning); a HYP file without REF partner, REF and HYP
durations more than 1 s apart, a malformed file or a folder without annotation files are errors
(exit 2). Only seizure labels count (TUSZ seiz, fnsz, cpsz, ...; not bckg or artifacts). Subject:
BIDS sub-XX in the path, else the file name up to its first '_' (TUSZ aaaaaaac_s001_t000 -> aaaaaaac).

Event scoring: any overlap with 30 s tolerance before onset and 60 s after offset, events closer
than 90 s merged, longer than 300 s split; sample scoring at 1 s. Counting is done by `timescoring`
(the SzCORE reference code); eegmon adds detection latency, per-subject and pooled summaries,
bootstrap confidence intervals over subjects and the NEDC (TUSZ) OVLP and TAES conventions.
See docs/evaluation.md.

examples:
  eegmon evaluate --ref sample_data/sim --hyp out/detections --json scores.json --report report.html
  eegmon evaluate --ref truth.tsv --hyp detected.tsv --fail-under 0.8
  for f in tusz/edf/dev/*/*/*/*.edf; do eegmon detect "$f" -o out/dev; done
  eegmon evaluate --ref tusz/edf/dev --hyp out/dev --json dev_scores.json
  eegmon evaluate --ref aaaaaaac_s001_t000.csv_bi --hyp aaaaaaac_s001_t000_events.tsv
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ref", required=True, metavar="REF",
                        help="reference (ground truth): an events.tsv, .csv_bi or .csv file, or a folder of them")
    parser.add_argument("--hyp", required=True, metavar="HYP",
                        help="hypothesis (detections): an events.tsv, .csv_bi or .csv file, or a folder of them")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="write the conventions JSON (event, sample, per_subject)")
    parser.add_argument("--details", type=Path, default=None, metavar="PATH",
                        help="write everything as JSON: also latency IQR, bootstrap CIs, NEDC, per recording")
    parser.add_argument("--report", type=Path, default=None, metavar="HTML", help="write an HTML report")
    parser.add_argument("--fail-under", type=float, default=None, metavar="F1",
                        help="exit 1 when the pooled event F1 is below this value")


def _line(name: str, block: dict) -> str:
    def f(x, pct=False):
        return "  n/a" if x is None else (f"{100 * x:5.1f}%" if pct else f"{x:6.2f}")

    return (f"{name:<8} sensitivity {f(block['sensitivity'], True)}  precision {f(block['precision'], True)}  "
            f"F1 {f(block['f1'])}  FP/24h {f(block['fp_per_24h'])}")


def summary_lines(doc: dict) -> list[str]:
    """Event and sample scores of an ``eegmon evaluate --json`` document, one line each."""
    return [_line("event", doc["event"]), _line("sample", doc["sample"])]


def run(args: argparse.Namespace) -> int:
    from ..errors import EegmonError
    from ..evaluate import evaluate

    ev = evaluate(args.ref, args.hyp, quiet=args.quiet)
    doc = ev.to_json()
    for path in (args.json, args.details, args.report):
        if path is not None and not path.parent.exists():
            raise EegmonError("the folder to write into does not exist.", path.parent)
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
    if args.details:
        args.details.write_text(json.dumps(ev.details(), indent=2) + "\n")
    if args.report:
        from ..evaluate.report import write_report

        write_report(ev, args.report)
    e = doc["event"]
    iqr = ev.latency_iqr()
    lat = "n/a" if e["latency_median_s"] is None else f"{e['latency_median_s']:.1f} s (IQR {iqr[0]:.1f}-{iqr[1]:.1f})"
    if not args.quiet:
        print(f"{len(ev.recordings)} recordings, {len(ev.subjects)} subjects, {e['hours']:.1f} h, "
              f"{e['n_ref']} seizures, {e['n_hyp']} detections")
        print("\n".join(summary_lines(doc)))
        print(f"latency  median {lat}")
    if args.fail_under is not None and (e["f1"] or 0.0) < args.fail_under:
        print(f"eegmon evaluate: event F1 {e['f1'] or 0.0:.3f} is below --fail-under {args.fail_under}")
        return 1
    return 0
