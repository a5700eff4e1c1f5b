"""Put this folder on ``sys.path`` (helpers ``tiny_runs`` and the test-only
hooks of ``reliability_hooks``) and build components in mmaction2's scope."""
import sys
from pathlib import Path

import pytest
from mmengine.registry import init_default_scope

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def mmaction_scope():
    """Build registry components in mmaction2's scope."""
    init_default_scope('mmaction')
