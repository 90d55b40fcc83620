"""``eegmon demo``: the end-to-end path on the bundled sample, summarised for a newcomer."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np

from .errors import EegmonError
from .events import to_datetime
from .io.events_tsv import read_events_tsv

#: The committed sample (see sample_data/README.md); the same arguments re-create it.
SAMPLE_ARGS = dict(days=0.1667, start="2025-01-06T21:00:00+00:00", seed=17, seizures_per_day=30.0, n_jobs=1)


def sample_dir() -> Path | None:
    """The bundled sample recording in a source checkout, or None when not installed from one."""
    path = Path(__file__).resolve().parents[1] / "sample_data" / "sim"
    return path if (path / "simulation.json").is_file() else None


def _simulate_sample(out_dir: Path) -> Path:
    from .simulate import SimulationConfig, simulate

    config_path = Path(__file__).resolve().parents[1] / "sample_data" / "demo_config.json"
    config = SimulationConfig.from_json(config_path) if config_path.is_file() else None
    simulate(out_dir, config=config, quiet=True, **SAMPLE_ARGS)
    return out_dir


def _line_length(x: np.ndarray) -> float:
    return float(np.mean(np.abs(np.diff(x, axis=0))))


def resolve_sample(data: str | os.PathLike | None, workdir: Path) -> Path:
    """The folder to demo: ``data``, else the bundled sample, else the sample simulated into ``workdir``."""
    if data is not None:
        return Path(data)
    return sample_dir() or _simulate_sample(workdir / "sim")


def run_demo(folder: str | os.PathLike) -> str:
    """Summarise a simulated recording folder against its ground truth; return the text.

    Parameters
    ----------
    folder : path-like
        Folder written by ``eegmon simulate``.
    """
    import edfio

    folder = Path(folder)
    edf_paths = sorted(folder.glob("*.edf"))
    if not edf_paths:
        raise EegmonError("no .edf files found; expected a folder written by 'eegmon simulate'.", folder)
    lines = [f"eegmon demo on {folder}", ""]
    spans, seizures, artifacts, ratios = [], [], [], []
    for path in edf_paths:
        try:
            edf = edfio.read_edf(path)
        except Exception as err:  # edfio raises several types for malformed files
            raise EegmonError(f"not a readable EDF file: {err}", path) from None
        start = edf.startdatetime.replace(tzinfo=dt.UTC).timestamp()
        spans.append((start, start + edf.duration))
        events_path = path.with_name(path.stem + "_events.tsv")
        truth = read_events_tsv(events_path).events if events_path.exists() else []
        art_path = path.with_name(path.stem + "_artifacts.tsv")
        artifacts += read_events_tsv(art_path).events if art_path.exists() else []
        if not truth:
            continue
        fs = edf.signals[0].sampling_frequency
        data_uv = np.stack([s.data for s in edf.signals], axis=1)
        for ev in truth:
            i0, i1 = int((ev.onset - start) * fs), int((ev.offset - start) * fs)
            base = data_uv[max(i0 - int(300 * fs), 0):i0]
            ratios.append(_line_length(data_uv[i0:i1]) / max(_line_length(base), 1e-9))
            seizures.append(ev)
    recorded = sum(b - a for a, b in spans)
    gaps = [(a[1], b[0]) for a, b in zip(spans[:-1], spans[1:], strict=True) if b[0] > a[1]]
    lines.append(f"recording   {to_datetime(spans[0][0]):%Y-%m-%d %H:%M} to {to_datetime(spans[-1][1]):%Y-%m-%d %H:%M} "
                 f"UTC, {len(edf_paths)} EDF+ files, {recorded / 3600:.2f} h recorded, {len(gaps)} gap(s) "
                 f"totalling {sum(b - a for a, b in gaps) / 60:.1f} min")
    lines.append(f"seizures    {len(seizures)} in the ground truth (events.tsv)")
    for ev, ratio in zip(seizures, ratios, strict=True):
        lines.append(f"  {to_datetime(ev.onset):%Y-%m-%d %H:%M:%S}  {ev.duration:6.1f} s  "
                     f"channels {','.join(ev.channels) or 'all'}  line length x{ratio:.1f} vs the 5 min before")
    kinds: dict[str, int] = {}
    for a in artifacts:
        kinds[a.label] = kinds.get(a.label, 0) + 1
    lines.append("artifacts   " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    return "\n".join(lines)
