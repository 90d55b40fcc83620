"""Work-arounds for two ways Qt (PySide6) kills the whole process instead of raising.

1. A reference-count bug of PySide6 6.12 (crash with "bool_dealloc"/"none_dealloc"). Reproduced
   here (PySide6-Essentials 6.12.0, pyqtgraph 0.14.0, Python 3.11): many Qt calls drop one
   reference to ``None`` or ``True`` that they never took (``QGraphicsItem.update()`` -1 None per
   call; one page step of the viewer about -70 None and -25 True). ``True`` starts near 200
   references, so after a few hundred page steps Python frees it and aborts, in the middle of a
   review session, and at the latest at interpreter exit. Python 3.12+ makes these objects
   immortal; on older Pythons :func:`guard_singleton_refcounts` does the same by adding a very
   large count once, which is harmless since they are never freed.
2. Creating the ``QApplication`` without a display, or without the system libraries of Qt's X11
   platform plugin (``libxcb-cursor0``, ``libxcb-icccm4``, ``libxcb-keysyms1``, ... which a minimal
   Debian/Ubuntu lacks), aborts the process (SIGABRT, exit code 134, a core dump).
   :func:`check_qt_platform` finds both before Qt is touched, so the CLI can say what to install.

Nothing here imports Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping

from .._logging import logger
from ..errors import EegmonError

_BIG = 1 << 40

#: Shared libraries Qt's GUI module needs on any platform: soname -> Debian/Ubuntu package.
GUI_LIBRARIES: dict[str, str] = {
    "libGL.so.1": "libgl1",
    "libEGL.so.1": "libegl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libxkbcommon.so.0": "libxkbcommon0",
}
#: Shared libraries of Qt's X11 platform plugin (``ldd .../plugins/platforms/libqxcb.so``, PySide6 6.x)
#: that a minimal system may lack: soname -> Debian/Ubuntu package.
XCB_LIBRARIES: dict[str, str] = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libX11-xcb.so.1": "libx11-xcb1",
}
#: Platform plugins that need no display and no X11 libraries.
HEADLESS_PLATFORMS = frozenset({"offscreen", "minimal", "vnc"})


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


def library_loadable(soname: str) -> bool:
    """True when the dynamic loader finds and loads the shared library ``soname`` (as Qt's plugin would)."""
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def missing_libraries(libraries: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``libraries`` (soname -> package) whose library cannot be loaded."""
    return {so: pkg for so, pkg in libraries.items() if not library_loadable(so)}


def _platforms(env: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt would try, in order (``QT_QPA_PLATFORM`` may list fallbacks: ``wayland;xcb``)."""
    chosen = env.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return [p.split(":")[0].strip().lower() for p in chosen.split(";") if p.strip()]
    # Qt 6 on Linux: wayland first in a Wayland session, xcb otherwise
    return ["wayland", "xcb"] if env.get("WAYLAND_DISPLAY") else ["xcb"]


def check_qt_platform(env: Mapping[str, str] | None = None, *, platform: str | None = None) -> None:
    """Raise :class:`~eegmon.errors.EegmonError` when Qt's platform plugin cannot start here.

    Checks what makes Qt abort the process instead of raising: the libraries of its GUI module,
    and for the X11 plugin (``xcb``, the default on Linux) a ``DISPLAY`` and the plugin's system
    libraries; for ``wayland`` a ``WAYLAND_DISPLAY``. ``offscreen``, ``minimal`` and ``vnc`` need no
    display. Other platforms and operating systems are not checked.

    Parameters
    ----------
    env : mapping | None
        The environment (default ``os.environ``).
    platform : str | None
        ``sys.platform`` (default: this one); only ``linux`` is checked.

    Raises
    ------
    EegmonError
        One line saying what is missing and the Debian/Ubuntu packages to install.
    """
    env = os.environ if env is None else env
    if (platform or sys.platform) != "linux":
        return
    problems: list[str] = []
    packages: dict[str, str] = missing_libraries(GUI_LIBRARIES)
    for name in _platforms(env):
        if name in HEADLESS_PLATFORMS:
            if not packages:
                return
            continue
        if name == "wayland":
            if env.get("WAYLAND_DISPLAY") and not packages:
                return
            if not env.get("WAYLAND_DISPLAY"):
                problems.append("no Wayland display (WAYLAND_DISPLAY is not set)")
            continue
        if name != "xcb":
            return  # a platform we know nothing about: let Qt try it
        missing = missing_libraries(XCB_LIBRARIES)
        packages.update(missing)
        if not env.get("DISPLAY"):
            problems.append("no display (DISPLAY is not set; run it in a desktop session, over ssh -X, "
                            "or with QT_QPA_PLATFORM=offscreen to test without a screen)")
        if not missing and not packages and env.get("DISPLAY"):
            return
    if packages:
        problems.append(f"missing system libraries {', '.join(sorted(packages))}: install them with "
                        f"'sudo apt-get install {' '.join(sorted(set(packages.values())))}' (Debian/Ubuntu names)")
    tried = "/".join(_platforms(env))
    raise EegmonError(f"Qt cannot open a window (platform {tried}): {'; '.join(problems) or 'no display'}.")
