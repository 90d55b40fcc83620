"""The recording archive (``eegmon.archive``): HDF5, crash-safe, appendable, random access.

``ARCHIVE.h5`` is a small manifest (channel metadata and the segments, sources, gaps,
annotations and detections tables), replaced atomically on every change; ``ARCHIVE.h5.d/`` holds
one immutable HDF5 file per segment with int16/int32 digital samples, per-channel gain/offset and
a min/max pyramid. See :class:`Archive`.
"""

from .archive import Archive, ImportReport, SegmentInfo, StoredAnnotation

__all__ = ["Archive", "ImportReport", "SegmentInfo", "StoredAnnotation"]
