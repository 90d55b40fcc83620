"""Readers and writers: recordings and annotation formats (``eegmon.io``).

Any input: :func:`open_recording` (archive, EDF/EDF+/BDF file, device folder, BIDS dataset or
run; what every command opens), :func:`iter_recordings` (each run of a dataset), and
:func:`import_sources` (into an archive).
Recordings: :func:`read_edf` (EDF, EDF+C/D, BDF), :func:`read_device_folder`, :func:`read_bids`.
Annotations: SzCORE/BIDS events.tsv, CHB-MIT summaries, TUSZ csv_bi/csv, EDF+ TAL, all mapped
onto one label vocabulary (:func:`map_label`), the original label kept.
"""

from .annotations import annotation_format, read_annotation_file
from .arrays import from_float_array
from .bids import BidsRun, BidsRunPath, find_bids_runs, read_bids
from .chbmit import ChbmitFile, chbmit_annotations, read_chbmit_summary, write_chbmit_summary
from .device_folder import read_device_folder
from .dispatch import iter_recordings, open_recording, recording_kind
from .edf import read_edf
from .events_tsv import EventsTsv, read_events_tsv, write_events_tsv, write_recording_events
from .ingest import import_sources
from .labels import VOCABULARY, map_label
from .tusz import TuszAnnotations, read_tusz_csv, write_tusz_csv

__all__ = [
    "BidsRun",
    "BidsRunPath",
    "ChbmitFile",
    "EventsTsv",
    "TuszAnnotations",
    "VOCABULARY",
    "annotation_format",
    "chbmit_annotations",
    "find_bids_runs",
    "from_float_array",
    "import_sources",
    "iter_recordings",
    "map_label",
    "open_recording",
    "read_annotation_file",
    "read_bids",
    "read_chbmit_summary",
    "read_device_folder",
    "read_edf",
    "read_events_tsv",
    "read_tusz_csv",
    "recording_kind",
    "write_chbmit_summary",
    "write_events_tsv",
    "write_recording_events",
    "write_tusz_csv",
]
