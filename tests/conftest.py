"""Put ``tests/helpers`` on ``sys.path``: helpers shared by test folders."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / 'helpers'))
