"""Pretrained weights never run pickled code, on each route that reads them.

A crafted checkpoint whose unpickling would create a marker file (as
malicious code would do anything else) is given to ``load_from`` (what
``tools/test.py CHECKPOINT`` sets), to a tower's ``init_cfg`` Pretrained and
to the ViT converter; each refuses it naming the file, and the marker never
appears. Plain weights go through the same routes. (The loader itself is
tested in tests/test_compat/test_checkpoint.py.)
"""
import os
import runpy
import subprocess
import sys

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.runner import Runner
from tiny_runs import REPO, TINY_ARCH, subprocess_env, tiny_avdigits_config

from rollingq_mm.compat import UnsafeCheckpointError, safe_torch_load

CONVERTER = REPO / 'tools' / 'model_converters' / 'vit_to_rollingq.py'


class RunsCode:
    """Unpickling this calls ``os.system`` (what a malicious file would do)."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.fixture
def evil(tmp_path):
    """A checkpoint with real-looking weights and a code-running object."""
    marker = tmp_path / 'code_ran'
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {'audio.cls_token': torch.zeros(1, 1, 32)},
                'meta': RunsCode(str(marker))}, path)
    return path, marker


def shifted(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` with every parameter moved by 1 (unlike any fresh init)."""
    with torch.no_grad():
        for param in module.parameters():
            param.add_(1.0)
    return module


def runner_for(tmp_path, **changes) -> Runner:
    """A tiny AV-Digits Runner with config changes applied."""
    cfg = tiny_avdigits_config(tmp_path / 'work', max_epochs=1)
    cfg.merge_from_dict(changes)
    return Runner.from_cfg(cfg)


def test_load_from_refuses_code_and_loads_plain_weights(tmp_path, evil):
    path, marker = evil
    runner = runner_for(tmp_path, load_from=str(path))
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth.*could run'):
        runner.test()
    assert not marker.exists()

    trained = shifted(
        MODELS.build(tiny_avdigits_config(tmp_path / 'cfg').model))
    plain = tmp_path / 'plain.pth'
    torch.save({'meta': {}, 'state_dict': trained.state_dict()}, plain)
    runner = runner_for(tmp_path, load_from=str(plain))
    metrics = runner.test()
    assert 'acc/fused_top1' in metrics
    for key, value in trained.state_dict().items():
        assert torch.equal(runner.model.state_dict()[key], value), key


def tower_init(path) -> dict:
    """Config change: the audio tower starts from ``path`` (prefix audio.)."""
    return {'model.modalities.audio.backbone.init_cfg': dict(
        type='Pretrained', checkpoint=str(path), prefix='audio.')}


def test_init_cfg_refuses_code_and_loads_plain_weights(tmp_path, evil):
    path, marker = evil
    runner = runner_for(tmp_path, **tower_init(path))
    with pytest.raises(UnsafeCheckpointError, match=r'evil\.pth'):
        runner.train()
    assert not marker.exists()

    tower = shifted(MODELS.build(tiny_avdigits_config(
        tmp_path / 'cfg').model).encoders['audio'])
    plain = tmp_path / 'towers.pth'
    torch.save({'state_dict': {f'audio.{k}': v
                               for k, v in tower.state_dict().items()}},
               plain)
    runner = runner_for(tmp_path, **tower_init(plain))
    runner.model.init_weights()
    for key, value in tower.state_dict().items():
        assert torch.equal(runner.model.encoders['audio'].state_dict()[key],
                           value), key


def test_vit_converter_refuses_code_and_converts_plain_weights(
        tmp_path, evil, monkeypatch):
    path, marker = evil
    out = tmp_path / 'towers.pth'
    run = subprocess.run(
        [sys.executable, str(CONVERTER), str(path), str(out)],
        cwd=str(REPO), env=subprocess_env(), capture_output=True, text=True,
        timeout=300)
    assert run.returncode != 0
    assert 'UnsafeCheckpointError: Refusing to load checkpoint' in run.stderr
    assert str(path) in run.stderr
    assert not marker.exists() and not out.exists()

    vit = MODELS.build(dict(type='mmpretrain.VisionTransformer',
                            arch=dict(TINY_ARCH, num_layers=2), img_size=32,
                            patch_size=16))
    source = tmp_path / 'vit.pth'
    torch.save({'state_dict': {f'backbone.{k}': v
                               for k, v in vit.state_dict().items()}}, source)
    monkeypatch.setattr(sys, 'argv', [
        str(CONVERTER), str(source), str(out), '--num-layers', '1',
        '--patch-size', '16', '--audio-size', '32', '32', '--frame-size',
        '32', '32', '--num-frames', '1'])
    runpy.run_path(str(CONVERTER), run_name='__main__')
    towers = safe_torch_load(str(out))['state_dict']
    assert torch.equal(towers['visual.layers.0.attn.qkv.weight'],
                       vit.state_dict()['layers.0.attn.qkv.weight'])
    assert not any(key.startswith('audio.layers.1') for key in towers)
