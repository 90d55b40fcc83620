"""The monthly report of a reviewed archive (``eegmon report``): PDF or HTML, with its numbers as JSON.

:func:`report_numbers` computes what the report says (seizures per day, durations, time of day,
the multi-day cycle, diary agreement, review progress, each detector against the reviewer, signal
coverage); :func:`write_report` renders it. Counts are of review items: each seizure once.
"""

from .numbers import report_numbers
from .write import write_report

__all__ = ["report_numbers", "write_report"]
