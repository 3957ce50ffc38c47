"""Compile the KPI engine's hot modules with mypyc into streams/kpi/_compiled/.

    python tools/compile_engine.py [--force]

The sources stay the plain Python that replay, the worker and the tests read; this only builds a
faster copy of them (see streams/kpi/__init__.py for when that copy is used). Nothing is done
when the copy is already built from the current sources, so `./dev` can call this every time.
Needs mypy (a dev dependency, it carries mypyc), a C compiler and the Python headers
(python3.11-dev); exits non-zero with the reason when any is missing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ["CCPULSE_PURE_PYTHON"] = "1"  # importing streams.kpi must not load the old copy
from streams.kpi import COMPILED_DIR, COMPILED_MODULES, STAMP_NAME, sources_digest  # noqa: E402

# The shared runtime of the compiled modules becomes streams.kpi._native__mypyc.
GROUP_NAME = "streams.kpi._native"


def compile_engine(force: bool = False) -> str:
    digest = sources_digest()
    stamp = COMPILED_DIR / STAMP_NAME
    if not force and stamp.exists() and stamp.read_text().strip() == digest:
        return "compiled engine is up to date"
    try:
        from mypyc.build import mypycify
        from setuptools import setup
    except ImportError as error:
        message = f"compile_engine: {error}; install the dev dependencies (./dev setup)"
        raise SystemExit(message) from None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ccpulse-mypyc-") as work:
        os.chdir(ROOT)  # mypyc names modules after their paths relative to here
        extensions = mypycify(
            [f"streams/kpi/{name}.py" for name in COMPILED_MODULES],
            group_name=GROUP_NAME,
            target_dir=os.path.join(work, "c"),
            opt_level="3",
        )
        os.chdir(work)  # keep setuptools away from the project's own pyproject.toml
        lib = Path(work, "lib")
        arguments = ["build_ext", "--build-lib", str(lib), "--build-temp", str(Path(work, "o"))]
        setup(name="ccpulse-engine", ext_modules=extensions, script_args=["-q", *arguments])
        built = sorted((lib / "streams" / "kpi").glob("*.so"))
        if len(built) != len(COMPILED_MODULES) + 1:
            names = [path.name for path in built]
            raise SystemExit(f"compile_engine: expected {COMPILED_MODULES} and a runtime: {names}")
        shutil.rmtree(COMPILED_DIR, ignore_errors=True)
        COMPILED_DIR.mkdir()
        for path in built:
            shutil.copy2(path, COMPILED_DIR / path.name)
    stamp.write_text(digest + "\n")
    elapsed = time.monotonic() - started
    return f"compiled {len(COMPILED_MODULES)} engine modules with mypyc in {elapsed:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    print(compile_engine(parser.parse_args().force))


if __name__ == "__main__":
    main()
