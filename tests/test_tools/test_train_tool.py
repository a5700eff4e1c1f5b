"""tools/train.py's start-up: the total batch against the config's lr, and
what --deterministic needs on CUDA."""
import importlib.util
import os
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from rollingq_mm.utils import set_deterministic_env, unscaled_batch_message

REPO = Path(__file__).resolve().parents[2]
PAPER_CONFIGS = ['rollingq_ks.py', 'vanilla_ks.py', 'concat_ks.py',
                 'rollingq_cremad.py', 'vanilla_cremad.py',
                 'concat_cremad.py']


def train_tool():
    """tools/train.py as a module (its main() is not run)."""
    spec = importlib.util.spec_from_file_location(
        'train_tool', REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def parsed(*argv: str):
    """tools/train.py's arguments for ``argv``."""
    module = train_tool()
    saved = sys.argv
    sys.argv = ['train.py', *argv]
    try:
        return module, module.parse_args()
    finally:
        sys.argv = saved


@pytest.mark.parametrize('name', PAPER_CONFIGS)
def test_paper_configs_are_the_papers_batch_on_four_gpus(name):
    """tools/dist_train.sh CONFIG 4: 4 x 16 = 64 clips per step at lr 1e-3,
    the paper's recipe, without a warning."""
    cfg = Config.fromfile(str(REPO / 'configs' / name))
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=64)
    assert unscaled_batch_message(cfg, world_size=4) is None


def test_another_total_batch_warns_unless_the_lr_is_scaled():
    cfg = Config.fromfile(str(REPO / 'configs' / 'rollingq_ks.py'))
    for world_size, total in ((1, 16), (8, 128)):
        message = unscaled_batch_message(cfg, world_size)
        assert f'total batch is {total}' in message
        assert 'train_dataloader.batch_size=16' in message
        assert 'auto_scale_lr.base_batch_size=64' in message
        assert '--auto-scale-lr' in message
    module, args = parsed(str(REPO / 'configs' / 'rollingq_ks.py'),
                          '--auto-scale-lr')
    scaled = module.merge_args(
        Config.fromfile(str(REPO / 'configs' / 'rollingq_ks.py')), args)
    assert unscaled_batch_message(scaled, 8) is None


def test_deterministic_exports_the_cublas_workspace(monkeypatch):
    """cuBLAS GEMMs are only deterministic with CUBLAS_WORKSPACE_CONFIG set
    before the first one; torch's deterministic mode raises without it."""
    config = str(REPO / 'configs' / 'rollingq_avdigits.py')
    monkeypatch.delenv('CUBLAS_WORKSPACE_CONFIG', raising=False)
    module, args = parsed(config)
    set_deterministic_env(module.merge_args(Config.fromfile(config), args))
    assert 'CUBLAS_WORKSPACE_CONFIG' not in os.environ
    module, args = parsed(config, '--deterministic')
    set_deterministic_env(module.merge_args(Config.fromfile(config), args))
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':4096:8'
    monkeypatch.setenv('CUBLAS_WORKSPACE_CONFIG', ':16:8')
    set_deterministic_env(module.merge_args(Config.fromfile(config), args))
    assert os.environ['CUBLAS_WORKSPACE_CONFIG'] == ':16:8'
