"""Readers and writers: recordings and annotation formats (``eegmon.io``)."""

from .events_tsv import EventsTsv, read_events_tsv, write_events_tsv

__all__ = ["EventsTsv", "read_events_tsv", "write_events_tsv"]
