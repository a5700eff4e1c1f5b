"""Fixtures for the tests of the preparation tools in ``tools/data``."""
import runpy
import sys
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[3] / 'tools' / 'data'


@pytest.fixture(scope='session')
def tools_dir() -> Path:
    """The folder ``tools/data``."""
    return TOOLS


@pytest.fixture
def run_tool(monkeypatch):
    """``run_tool(script, *args)``: run a tool as ``python script args``."""

    def run(script: Path, *args) -> None:
        monkeypatch.setattr(sys, 'argv',
                            [str(script)] + [str(arg) for arg in args])
        runpy.run_path(str(script), run_name='__main__')

    return run
