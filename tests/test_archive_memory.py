"""Peak memory does not grow with recording length: import and read 1 vs 8 simulated days."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _archive_helpers import START, digital, write_edf

FS = 207
DAY = FS * 86400

CHILD = textwrap.dedent("""
    import json, resource, sys
    from eegmon.archive import Archive
    from eegmon.io import read_device_folder
    rec = read_device_folder(sys.argv[1])
    with Archive.create(sys.argv[2], rec.channels, rec.fs) as arc:
        arc.import_recording(rec)
        arc.minmax(arc.start, arc.stop, 2000)
        n = sum(d.shape[1] for _, d in arc.iter_chunks(3600.0))
    print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "n": n}))
""")


@pytest.fixture(scope="module")
def days(tmp_path_factory):
    """Device folders of 1 and 8 days: one EDF per day with a 1-hour gap (hour-long pattern tiled)."""
    hour = digital(2, FS * 3600)
    one_day = np.tile(hour, (1, 24))
    out = {}
    for n_days in (1, 8):
        folder = tmp_path_factory.mktemp(f"days{n_days}")
        for d in range(n_days):
            write_edf(folder / f"sim01_{d:02d}.edf", one_day, start=START + dt.timedelta(hours=25 * d))
        out[n_days] = folder
    return out


def _peak(folder, tmp_path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(folder), str(tmp_path / f"{folder.name}.h5")],
                          capture_output=True, text=True, timeout=240, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
def test_peak_rss_flat_in_recording_length(days, tmp_path):
    one = _peak(days[1], tmp_path)
    eight = _peak(days[8], tmp_path)
    assert one["n"] >= DAY and eight["n"] >= 8 * DAY  # everything was read back (gaps add NaN columns)
    # 8x the data may not cost more than a quarter more memory (plus 40 MB of slack for allocator noise)
    assert eight["maxrss_kb"] < 1.25 * one["maxrss_kb"] + 40_000, (one, eight)
