"""A tiny model trained on a few AV-Digits samples, for the noise-probe tests.

The project's configs/rollingq_avdigits.py (and concat_avdigits.py) with
one-layer 16-wide towers, 200 training / 60 test samples of the shipped
data/avdigits, two epochs: the real Runner, pipeline and checkpoint, in
about ten seconds.

Puts ``tools/analysis`` on ``sys.path``, as it is when its scripts run, so
that the tests import the helper modules beside them (``probe_passes``,
``probe_summary``, ``probe_outputs``, ``run_table``).
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

REPO = Path(__file__).resolve().parents[3]
TOOLS_ANALYSIS = REPO / 'tools' / 'analysis'
if str(TOOLS_ANALYSIS) not in sys.path:
    sys.path.insert(0, str(TOOLS_ANALYSIS))

from probe_summary import read_csv  # noqa: E402
from run_table import find_checkpoint  # noqa: E402

AVDIGITS = REPO / 'data' / 'avdigits'
TINY_ARCH = dict(embed_dims=16, num_layers=1, num_heads=2,
                 feedforward_channels=32)
SPLIT_SIZES = dict(train=200, val=40, test=60)


def subset_annotations(split: str, size: int, folder: Path) -> Path:
    """Every k-th line of an AV-Digits split (all digits), ``size`` lines."""
    lines = [
        line for line in (AVDIGITS / f'{split}.txt').read_text().splitlines()
        if line.strip() and not line.startswith('#')
    ]
    path = folder / f'{split}.txt'
    path.write_text('\n'.join(lines[::len(lines) // size][:size]) + '\n')
    return path


def tiny_avdigits_config(name: str, folder: Path) -> Config:
    """``configs/<name>`` shrunk to a tiny model on a few samples."""
    cfg = Config.fromfile(str(REPO / 'configs' / name))
    for spec in cfg.model.modalities.values():
        spec.backbone.arch = dict(TINY_ARCH)
        spec.tokenizer.in_channels = TINY_ARCH['embed_dims']
    for split, size in SPLIT_SIZES.items():
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = 20
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.ann_file = str(subset_annotations(split, size, folder))
        loader.dataset.data_prefix = dict(video=str(AVDIGITS),
                                          audio=str(AVDIGITS))
        loader.dataset.metainfo = dict(classes=str(AVDIGITS / 'classes.txt'))
    cfg.train_cfg.max_epochs = 2
    cfg.param_scheduler = []
    cfg.optim_wrapper.optimizer.lr = 3e-3
    cfg.default_hooks.logger.interval = 5
    cfg.work_dir = str(folder / 'train')
    cfg.launcher = 'none'
    return cfg


def run_repo_tool(*args: str,
                  timeout: int = 300) -> subprocess.CompletedProcess:
    """Run a command of the repo root with one thread per process."""
    return subprocess.run(
        [sys.executable, *args], cwd=str(REPO), capture_output=True,
        text=True, timeout=timeout, env=dict(os.environ, OMP_NUM_THREADS='1'))


@pytest.fixture(scope='session')
def run_tool():
    """``run_tool(script, *args)``: a repo tool in a subprocess."""
    return run_repo_tool


@pytest.fixture(scope='session')
def tiny_config_factory():
    """``tiny_config_factory(config_name, folder)`` -> shrunk Config."""
    return tiny_avdigits_config


@pytest.fixture(scope='session')
def trained_rollingq(tmp_path_factory) -> dict:
    """Train the tiny RollingQ model; its config file and best checkpoint."""
    folder = tmp_path_factory.mktemp('tiny_rollingq')
    cfg = tiny_avdigits_config('rollingq_avdigits.py', folder)
    config_file = folder / 'tiny_rollingq_avdigits.py'
    cfg.dump(str(config_file))
    init_default_scope('mmaction')
    Runner.from_cfg(Config.fromfile(str(config_file))).train()
    checkpoint = find_checkpoint(str(folder / 'train'),
                                 'best_acc_fused_top1_*.pth')
    return dict(config=config_file, checkpoint=Path(checkpoint),
                folder=folder, num_test=SPLIT_SIZES['test'])


@pytest.fixture(scope='session')
def probe(trained_rollingq, tmp_path_factory) -> dict:
    """tools/analysis/noise_probe.py on the tiny model: levels 0 / 0.5 / 1,
    random levels up to 1.5, seed 3; its folder, log and CSV rows."""
    out_dir = tmp_path_factory.mktemp('probe')
    run = run_repo_tool(
        'tools/analysis/noise_probe.py', str(trained_rollingq['config']),
        str(trained_rollingq['checkpoint']), '--levels', '0', '0.5', '1',
        '--random-levels', '1.5', '--seed', '3', '--out-dir', str(out_dir))
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(out_dir=out_dir, log=run.stdout + run.stderr,
                records=read_csv(str(out_dir / 'records.csv')),
                accuracy=read_csv(str(out_dir / 'accuracy.csv')),
                correlation=read_csv(str(out_dir / 'correlation.csv')))
