"""The README's main job: the bundled-data demo runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_sleepstudy_demo_runs():
    env = {**os.environ, "MIXEDFIT_QUICK": "1"}
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "sleepstudy.py")],
                         capture_output=True, text=True, env=env, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Formula: Reaction ~ Days + (Days | Subject)" in out.stdout
    assert "Fixed effects" in out.stdout and "Shrinkage" in out.stdout


def test_import_is_light():
    code = "import sys, mixedfit; print('pymc' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
