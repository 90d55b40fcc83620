"""Write the monthly report of a reviewed archive: PDF or HTML, and its numbers as JSON.

Seizures per day (confirmed and detected-but-unreviewed), durations, a time-of-day rose and the
multi-day cycle of the confirmed seizures, diary vs EEG agreement (the archive's diary annotations
and --diary FILE: seizures the patient did not note, diary entries with no EEG seizure within
an hour), review progress and each detector against the reviewer (found, confirmed, rejected,
sensitivity, false alarms per 24 h), and the signal's coverage. Each seizure counts once, however
many detectors found it. Days and times are the patient's (--time-zone, default the archive's).

examples:
  eegmon report patient01.h5 -o report.pdf
  eegmon report patient01.h5 --month 2025-01 -o 2025-01.html --json 2025-01.json
  eegmon report patient01.h5 --month 2025-01 --diary diary.csv --time-zone Europe/London -o report.pdf
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("archive", type=Path, metavar="ARCHIVE", help="a reviewed archive (.h5)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                        help="the report to write: .pdf (A4 pages) or .html (one file)")
    parser.add_argument("--month", default=None, metavar="YYYY-MM",
                        help="the month to report, in the patient's time zone (default: the recording's last)")
    parser.add_argument("--time-zone", default=None, metavar="ZONE",
                        help="IANA time zone of the patient, e.g. Europe/London (default: the archive's, else UTC)")
    parser.add_argument("--diary", type=Path, default=None, metavar="CSV",
                        help="a seizure diary (docs/forecasting.md) to compare with the EEG; its times are in "
                             "--time-zone unless it has a timezone column")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the numbers as JSON")


def run(args: argparse.Namespace) -> int:
    from ..archive import Archive
    from ..errors import EegmonError
    from ..report import report_numbers, write_report

    if not args.archive.is_file():
        raise EegmonError("no such archive.", args.archive)
    with Archive.open(args.archive) as arc:
        if not arc.segments:
            raise EegmonError("the archive holds no recording to report on.", args.archive)
        zone = args.time_zone or arc.time_zone
        diary = []
        if args.diary is not None:
            from ..forecast.seizures import read_diary

            diary = read_diary(args.diary, timezone=zone).onsets.tolist()
        numbers = report_numbers(arc, args.month, time_zone=zone, diary=diary)
    write_report(numbers, args.output, json_path=args.json)
    if not args.quiet:
        sz = numbers["seizures"]
        print(f"{numbers['title']}: {sz['confirmed']} confirmed seizure(s), {sz['unreviewed']} unreviewed; "
              f"review {numbers['review']['reviewed']} of {numbers['review']['items']}; wrote {args.output}"
              + (f" and {args.json}" if args.json else ""))
    return 0
