"""The CLI frame: help on every subcommand, exit codes and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest
from _terminal import FakeTerminal

from eegmon.cli import build_parser, main
from eegmon.commands import COMMANDS


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eegmon.cli", *args], capture_output=True, text=True, timeout=300)


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out
    assert "not a certified medical device" in out


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_subcommand_has_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        main([name, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert f"eegmon {name}" in out
    assert "--quiet" in out and "--debug" in out


def test_no_command_is_a_usage_error(capsys):
    assert main([]) == 2


def test_unknown_option_is_one_line_exit_2():
    proc = run_cli("simulate", "/tmp/never", "--days", "1", "--bogus")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--bogus" in lines[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--days", "-1"], "--days"),
        (["--days", "0"], "--days"),
        (["--days", "1", "--fs", "0"], "--fs"),
        (["--days", "1", "--channels", "0"], "--channels"),
        (["--days", "1", "--seizures-per-day", "-2"], "--seizures-per-day"),
        (["--days", "1", "--start", "yesterday"], "--start"),
        (["--days", "1", "--fs", "100.3"], "--fs"),
    ],
)
def test_bad_simulate_arguments_exit_2_with_one_line(tmp_path, args, needle):
    out = tmp_path / "out"
    proc = run_cli("simulate", str(out), *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]
    assert "Traceback" not in proc.stderr
    assert not any(out.glob("*.edf")) if out.exists() else True


def test_unwritable_out_dir_names_the_path(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    target = blocker / "sub"
    proc = run_cli("simulate", str(target), "--days", "0.01")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0]


def test_non_empty_out_dir_is_refused_and_untouched(tmp_path):
    keep = tmp_path / "notes.txt"
    keep.write_text("precious")
    proc = run_cli("simulate", str(tmp_path), "--days", "0.01")
    assert proc.returncode == 2
    assert "--overwrite" in proc.stderr and str(tmp_path) in proc.stderr
    assert keep.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_debug_shows_the_traceback(tmp_path):
    proc = run_cli("simulate", str(tmp_path / "x"), "--days", "-1", "--debug")
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr


def test_parser_builds_without_importing_heavy_modules():
    code = ("import sys; from eegmon.cli import build_parser; build_parser(); "
            "print(any(m in sys.modules for m in ('PySide6', 'numba', 'mne', 'edfio')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "False", proc.stderr
    assert build_parser().prog == "eegmon"


def test_progress_bar_on_a_terminal_and_silent_when_quiet(monkeypatch):
    from eegmon._logging import progress

    term = FakeTerminal()
    monkeypatch.setattr("sys.stderr", term)
    assert list(progress(range(3), desc="work")) == [0, 1, 2]
    assert "work:" in term.text and "0/3" in term.text
    term.text = ""
    assert list(progress(range(3), desc="work", quiet=True)) == [0, 1, 2]
    assert term.text == ""
