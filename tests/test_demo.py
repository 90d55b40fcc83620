"""`eegmon demo`: the newcomer's command runs end to end on the bundled sample."""

from __future__ import annotations

import subprocess
import sys


def test_demo_runs_end_to_end():
    proc = subprocess.run([sys.executable, "-m", "eegmon.cli", "demo"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "seizures    4 in the ground truth" in out
    assert "archive     imported" in out
    for name in ("classifier", "line-length"):
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(name))
        sensitivity = int(line.split("sensitivity ")[1].split("%")[0])
        assert sensitivity >= 75
    assert "not a certified medical device" in out
    live = next(ln for ln in out.splitlines() if ln.startswith("live monitor: ") and "alert(s)" in ln)
    assert int(live.split(": ")[1].split(" alert")[0]) >= 3 and out.count("  ALERT ") >= 3


def test_demo_on_another_folder_and_a_bad_one(tmp_path):
    from eegmon.simulate import simulate

    simulate(tmp_path / "s", days=0.1, seed=4, seizures_per_day=20, quiet=True, n_jobs=1)
    ok = subprocess.run([sys.executable, "-m", "eegmon.cli", "demo", "--data", str(tmp_path / "s")],
                        capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr
    (tmp_path / "empty").mkdir()
    bad = subprocess.run([sys.executable, "-m", "eegmon.cli", "demo", "--data", str(tmp_path / "empty")],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "no .edf files" in bad.stderr
