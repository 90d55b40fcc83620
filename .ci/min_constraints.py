"""Print pip constraints pinning every dependency to its lowest allowed version.

Each ``name>=X`` requirement of ``pyproject.toml`` (the core dependencies and the extras given on
the command line) becomes ``name==X``, so ``pip install -c <output> -e ".[test,viewer]"`` installs
the oldest versions eegmon claims to support and ``make test-min`` checks that claim.

usage: python .ci/min_constraints.py [EXTRA[,EXTRA...] ...] > constraints-min.txt
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

_LOWER = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([^,;\s]+)")


def lowest_pins(pyproject: Path, extras: list[str]) -> list[str]:
    """``name==lowest`` for every requirement with a ``>=`` bound in the core and ``extras``."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    unknown = sorted(set(extras) - set(optional))
    if unknown:
        raise SystemExit(f"unknown extra(s) {unknown}; pyproject.toml has {sorted(optional)}")
    pins = {}
    for req in project["dependencies"] + [r for extra in extras for r in optional[extra]]:
        match = _LOWER.match(req)
        if match:
            pins[match[1].lower()] = f"{match[1]}=={match[3]}"
    return sorted(pins.values(), key=str.lower)


if __name__ == "__main__":
    extras = [e for arg in sys.argv[1:] for e in arg.split(",") if e]
    print("\n".join(lowest_pins(Path(__file__).resolve().parents[1] / "pyproject.toml", extras)))
