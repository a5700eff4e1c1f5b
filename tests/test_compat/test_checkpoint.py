"""Checkpoint loading: weights-only for load_from / init_cfg, full resume."""
import argparse
import os

import pytest
import torch
import torch.nn as nn
from mmengine.logging.history_buffer import HistoryBuffer
from mmengine.runner import load_checkpoint

from rollingq_mm.compat import (UnsafeCheckpointError, safe_torch_load,
                                trusted_checkpoint_loading)


class RunsCode:
    """Unpickling this calls ``os.system`` (what a malicious file would do)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


class ReachesAttribute:
    """Unpickling this calls ``getattr(HistoryBuffer, '__init__')``."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_code_running_checkpoint_is_refused_everywhere(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'weight': torch.ones(1)},
                'meta': RunsCode(str(marker))}, path)
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        safe_torch_load(str(path))
    with pytest.raises(UnsafeCheckpointError, match='could\\s+run code'):
        load_checkpoint(nn.Linear(1, 1), str(path))
    assert not marker.exists()


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = tmp_path / 'attr.pth'
    torch.save({'x': ReachesAttribute()}, path)
    with pytest.raises(UnsafeCheckpointError, match='attr.pth'):
        safe_torch_load(str(path))


def test_plain_weights_and_message_hub_load_weights_only(tmp_path):
    model = nn.Linear(3, 2)
    buffer = HistoryBuffer()
    buffer.update(1.5)
    path = tmp_path / 'ok.pth'
    torch.save({'state_dict': model.state_dict(),
                'message_hub': {'log_scalars': {'train/loss': buffer}}}, path)
    fresh = nn.Linear(3, 2)
    load_checkpoint(fresh, str(path))
    assert torch.equal(fresh.weight, model.weight)
    loaded = safe_torch_load(str(path))
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 1.5


def test_trusted_block_unpickles_in_full(tmp_path):
    path = tmp_path / 'own.pth'
    torch.save({'note': argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(UnsafeCheckpointError):
        safe_torch_load(str(path))
    with trusted_checkpoint_loading():
        assert safe_torch_load(str(path))['note'].lr == 0.1
    with pytest.raises(UnsafeCheckpointError):
        safe_torch_load(str(path))
