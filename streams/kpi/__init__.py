"""The KPI engine: pure Python, no Faust, Kafka, Redis or Prometheus imports.

`Engine` turns canonical events (DESIGN.md, "Events") into the DESIGN snapshot. Its state lives
in injectable key-value mappings (`EngineState`): plain dicts in `ccpulse replay`, changelog-backed
Faust tables in the live worker.

The hot modules can also be compiled, unchanged, with mypyc (`tools/compile_engine.py`, which
`./dev` runs): about 1.5x the events per second. The compiled copy in `_compiled/` is used only
while it was built from exactly the sources beside it, so an edited module never runs stale
code; `CCPULSE_PURE_PYTHON=1` forces the sources.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

COMPILED_MODULES = (
    "decode",
    "engine",
    "erlang",
    "events",
    "staffing",
    "state",
    "tally",
    "timegrid",
)
COMPILED_DIR = Path(__file__).resolve().parent / "_compiled"
STAMP_NAME = "SOURCES.sha256"


def sources_digest() -> str:
    """SHA-256 of the modules a compiled copy is built from."""
    digest = hashlib.sha256()
    for name in COMPILED_MODULES:
        digest.update((COMPILED_DIR.parent / f"{name}.py").read_bytes())
    return digest.hexdigest()


def _compiled_copy_is_current() -> bool:
    if os.environ.get("CCPULSE_PURE_PYTHON", "") not in ("", "0"):
        return False
    try:
        return (COMPILED_DIR / STAMP_NAME).read_text().strip() == sources_digest()
    except OSError:
        return False


# Modules of this package are looked up in __path__ in order: the compiled copy first.
if _compiled_copy_is_current():
    __path__.insert(0, str(COMPILED_DIR))
    BUILD = "mypyc"
else:
    BUILD = "python"
