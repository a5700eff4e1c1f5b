"""Shared by every test folder: ``tests/helpers`` on ``sys.path`` (the tiny
AV-Digits runs, test-only hooks, the CUDA-fork emulation, checkpoint
comparison) and registry components built in mmaction2's scope."""
import sys
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope

sys.path.insert(0, str(Path(__file__).resolve().parent / 'helpers'))


@pytest.fixture(autouse=True)
def mmaction_scope():
    """Build registry components in mmaction2's scope."""
    init_default_scope('mmaction')
