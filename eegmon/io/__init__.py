"""Readers and writers: recordings and annotation formats (``eegmon.io``).

Recordings: :func:`read_edf` (EDF, EDF+C/D, BDF), :func:`read_device_folder`, :func:`read_bids`.
Annotations: SzCORE/BIDS events.tsv, CHB-MIT summaries, TUSZ csv_bi/csv, EDF+ TAL, all mapped
onto one label vocabulary (:func:`map_label`), the original label kept.
"""

from .annotations import annotation_format, read_annotation_file
from .arrays import from_float_array
from .bids import BidsRun, read_bids
from .chbmit import ChbmitFile, chbmit_annotations, read_chbmit_summary, write_chbmit_summary
from .device_folder import read_device_folder
from .edf import read_edf
from .events_tsv import EventsTsv, read_events_tsv, write_events_tsv
from .labels import VOCABULARY, map_label
from .tusz import TuszAnnotations, read_tusz_csv, write_tusz_csv

__all__ = [
    "BidsRun",
    "ChbmitFile",
    "EventsTsv",
    "TuszAnnotations",
    "VOCABULARY",
    "annotation_format",
    "chbmit_annotations",
    "from_float_array",
    "map_label",
    "read_annotation_file",
    "read_bids",
    "read_chbmit_summary",
    "read_device_folder",
    "read_edf",
    "read_events_tsv",
    "read_tusz_csv",
    "write_chbmit_summary",
    "write_events_tsv",
    "write_tusz_csv",
]
