"""flake8 (79 columns, settings in setup.cfg) finds nothing in the code.

Runs ``python -m flake8`` over the package, the tests, the tools, the
benchmarks, the configs and setup.py, from the repository root so that the
``[flake8]`` section of setup.cfg applies.
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ('rollingq_mm', 'tests', 'tools', 'benchmarks', 'configs',
           'setup.py')


def test_flake8_reports_nothing():
    run = subprocess.run([sys.executable, '-m', 'flake8', *CHECKED],
                         cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, (
        f'flake8 found problems:\n{run.stdout}{run.stderr}')
