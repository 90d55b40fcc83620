"""`eegmon view` says what Qt lacks (one line, exit 2) instead of letting Qt abort the process (exit 134)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from eegmon.viewer import _qtfix
from eegmon.viewer._qtfix import GUI_LIBRARIES, XCB_LIBRARIES, check_qt_platform, library_loadable

from eegmon.archive import Archive
from eegmon.cli import main
from eegmon.errors import EegmonError

CLI = "import sys; from eegmon.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def empty_archive(tmp_path):
    path = tmp_path / "a.h5"
    Archive.create(path, ["Fp1", "Fp2"], 256.0).close()
    return path


@pytest.fixture
def all_libraries(monkeypatch):
    """Every library loads (whatever this machine has installed)."""
    monkeypatch.setattr(_qtfix, "library_loadable", lambda soname: True)


def test_library_probe_is_real():
    assert library_loadable("libc.so.6")
    assert not library_loadable("libeegmon-no-such-library.so.7")


@pytest.mark.skipif(sys.platform != "linux", reason="the check is for Linux")
def test_view_without_a_display_exits_2_with_one_line(empty_archive):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([sys.executable, "-c", CLI, "view", str(empty_archive)], capture_output=True, text=True,
                          env=env, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("eegmon view: error: Qt cannot open a window")
    assert "DISPLAY is not set" in lines[0] and "QT_QPA_PLATFORM=offscreen" in lines[0]


def test_missing_xcb_libraries_are_named_with_their_packages(monkeypatch):
    missing = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    monkeypatch.setattr(_qtfix, "library_loadable", lambda soname: soname not in missing)
    with pytest.raises(EegmonError) as info:
        check_qt_platform({"DISPLAY": ":0"}, platform="linux")
    text = str(info.value)
    assert "\n" not in text
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1'" in text
    assert all(so in text for so in missing) and "DISPLAY" not in text  # the display is there
    assert "libxcb-image0" not in text  # only what is missing


def test_missing_libraries_through_the_cli(monkeypatch, capsys, empty_archive):
    monkeypatch.setattr(_qtfix, "library_loadable", lambda soname: soname != "libxcb-cursor.so.0")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["view", str(empty_archive)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "libxcb-cursor0" in err[0] and "Debian/Ubuntu" in err[0]


@pytest.mark.parametrize(("env", "ok"), [
    ({"QT_QPA_PLATFORM": "offscreen"}, True),
    ({"QT_QPA_PLATFORM": "minimal"}, True),
    ({"DISPLAY": ":0"}, True),
    ({"WAYLAND_DISPLAY": "wayland-0"}, True),
    ({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":1"}, True),  # falls back to X11
    ({}, False),
    ({"QT_QPA_PLATFORM": "xcb"}, False),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, False),  # no Wayland display
    ({"QT_QPA_PLATFORM": "eglfs"}, True),  # not one we know: Qt is left to try
])
def test_platforms(all_libraries, env, ok):
    if ok:
        check_qt_platform(env, platform="linux")
    else:
        with pytest.raises(EegmonError, match="Qt cannot open a window"):
            check_qt_platform(env, platform="linux")


def test_offscreen_still_needs_the_gui_libraries(monkeypatch):
    monkeypatch.setattr(_qtfix, "library_loadable", lambda soname: soname != "libfontconfig.so.1")
    with pytest.raises(EegmonError, match="libfontconfig1"):
        check_qt_platform({"QT_QPA_PLATFORM": "offscreen"}, platform="linux")


def test_other_systems_are_not_checked(monkeypatch):
    monkeypatch.setattr(_qtfix, "library_loadable", lambda soname: False)
    check_qt_platform({}, platform="darwin")


def test_packages_are_debian_names():
    for table in (GUI_LIBRARIES, XCB_LIBRARIES):
        for soname, package in table.items():
            assert soname.startswith("lib") and ".so." in soname
            assert package == package.lower() and " " not in package
