"""Work-around for a reference-count bug of PySide6 6.12 (crash with "bool_dealloc"/"none_dealloc").

Reproduced here (PySide6-Essentials 6.12.0, pyqtgraph 0.14.0, Python 3.11): many Qt calls drop one
reference to ``None`` or ``True`` that they never took (``QGraphicsItem.update()`` -1 None per call;
one page step of the viewer about -70 None and -25 True). ``True`` starts near 200 references, so
after a few hundred page steps Python frees it and aborts, in the middle of a review session, and
at the latest at interpreter exit. Python 3.12+ makes these objects immortal; on older Pythons
we do the same by adding a very large count once, which is harmless since they are never freed.
"""

from __future__ import annotations

import ctypes
import sys

from .._logging import logger

_BIG = 1 << 40


def guard_singleton_refcounts(binding: str) -> bool:
    """Make ``None``, ``True`` and ``False`` effectively immortal under PySide6 on Python < 3.12.

    Parameters
    ----------
    binding : str
        The Qt binding in use (``pyqtgraph.Qt.QT_LIB``).

    Returns
    -------
    bool
        True when the guard was applied now (False when not needed or already applied).
    """
    if sys.version_info >= (3, 12) or binding != "PySide6":
        return False
    applied = False
    for obj in (None, True, False):
        if sys.getrefcount(obj) < _BIG // 2:
            ctypes.c_ssize_t.from_address(id(obj)).value += _BIG
            applied = True
    if applied:
        logger.debug("PySide6 on Python %s: None/True/False made immortal (PySide6 6.12 refcount bug)",
                     sys.version.split()[0])
    return applied
