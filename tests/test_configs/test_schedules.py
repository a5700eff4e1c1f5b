"""The configs' learning-rate schedules follow ``train_cfg.max_epochs``.

Each config is loaded and overridden as ``tools/train.py`` does it
(``--cfg-options train_cfg.max_epochs=N``), then its optimizer and
schedulers train a toy model in a real MMEngine Runner; the learning rate
used by every iteration is recorded.
"""
import importlib.util
import math
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from rollingq_mm.utils.launch import drop_unreached_schedulers

REPO = Path(__file__).resolve().parents[2]
ITERS_PER_EPOCH = 2


def train_tool_config(*argv: str) -> Config:
    """The config ``tools/train.py`` would run for ``argv`` (not run)."""
    spec = importlib.util.spec_from_file_location(
        'train_tool', REPO / 'tools' / 'train.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    saved = sys.argv
    sys.argv = ['train.py', *argv]
    try:
        args = module.parse_args()
    finally:
        sys.argv = saved
    return module.merge_args(Config.fromfile(args.config), args)


class ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, inputs, data_samples=None, mode='loss'):
        return dict(loss=self.linear(inputs).pow(2).mean())


class ToyData(Dataset):

    def __len__(self) -> int:
        return ITERS_PER_EPOCH

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=torch.ones(1))


class LrRecorder(Hook):
    """(epoch, iteration, learning rate) of each training iteration."""

    def __init__(self) -> None:
        self.lrs = []

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.lrs.append((runner.epoch + 1, runner.iter,
                         runner.optim_wrapper.get_lr()['lr'][0]))


def train_lrs(cfg: Config, work_dir: Path) -> tuple:
    """Train the toy model with ``cfg``'s optimizer, schedulers and
    ``train_cfg``; return the recorder and the runner."""
    recorder = LrRecorder()
    runner = Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(), batch_size=1, num_workers=0,
            collate_fn=dict(type='default_collate'),
            sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=cfg.optim_wrapper,
        param_scheduler=cfg.param_scheduler,
        train_cfg=dict(by_epoch=True, max_epochs=cfg.train_cfg.max_epochs),
        default_hooks=dict(logger=None, checkpoint=None),
        custom_hooks=[recorder],
        default_scope='mmengine')
    runner.train()
    return recorder, runner


@pytest.mark.parametrize('name,default_epochs,epochs', [
    ('rollingq_avdigits.py', 20, 30),
    ('rollingq_ks.py', 30, 12),
])
def test_cosine_ends_at_overridden_max_epochs(name, default_epochs, epochs,
                                              tmp_path):
    assert Config.fromfile(
        str(REPO / 'configs' / name)).train_cfg.max_epochs == default_epochs
    cfg = train_tool_config(str(REPO / 'configs' / name), '--work-dir',
                            str(tmp_path), '--cfg-options',
                            f'train_cfg.max_epochs={epochs}')
    recorder, runner = train_lrs(cfg, tmp_path)
    base_lr = cfg.optim_wrapper.optimizer.lr
    warmup, cosine = runner.param_schedulers
    assert cosine.end == epochs * ITERS_PER_EPOCH
    assert cosine.T_max == cosine.end - cosine.begin

    assert sorted({epoch for epoch, _, _ in recorder.lrs}) == list(
        range(1, epochs + 1))
    # Cosine decay from the end of the warm-up to the end of epoch N: the
    # last iteration uses the schedule's smallest value, one step short of
    # eta_min = 0; at the config's own end the lr is still far from it.
    decay = [(epoch, lr) for epoch, step, lr in recorder.lrs
             if step >= cosine.begin]
    for (_, step, lr) in recorder.lrs[-len(decay):]:
        progress = (step - cosine.begin) / cosine.T_max
        assert lr == pytest.approx(
            base_lr * (1 + math.cos(math.pi * progress)) / 2, rel=1e-4)
    assert decay[-1][0] == epochs
    assert 0.0 < decay[-1][1] < 0.01 * base_lr
    shorter = min(default_epochs, epochs) - 1
    assert min(lr for epoch, lr in decay if epoch == shorter) > 0.01 * base_lr


def test_default_schedule_ends_at_the_configs_epochs(tmp_path):
    cfg = train_tool_config(str(REPO / 'configs' / 'rollingq_avdigits.py'),
                            '--work-dir', str(tmp_path))
    recorder, runner = train_lrs(cfg, tmp_path)
    assert runner.param_schedulers[-1].end == 20 * ITERS_PER_EPOCH
    epoch, _, lr = recorder.lrs[-1]
    assert epoch == 20 and 0.0 < lr < 0.01 * cfg.optim_wrapper.optimizer.lr


@pytest.mark.parametrize('name,epochs', [('rollingq_avdigits.py', 1),
                                         ('rollingq_ks.py', 2)])
def test_run_shorter_than_the_warm_up_drops_the_cosine(name, epochs,
                                                       tmp_path):
    cfg = train_tool_config(str(REPO / 'configs' / name), '--work-dir',
                            str(tmp_path), '--cfg-options',
                            f'train_cfg.max_epochs={epochs}')
    messages = drop_unreached_schedulers(cfg)
    assert len(messages) == 1
    assert messages[0].startswith('param_scheduler[1] (CosineAnnealingLR) '
                                  'begins at epoch')
    assert f'train_cfg.max_epochs={epochs}: not used' in messages[0]
    recorder, runner = train_lrs(cfg, tmp_path)
    assert [type(s).__name__ for s in runner.param_schedulers] == [
        'LinearLR']
    lrs = [lr for _, _, lr in recorder.lrs]
    assert len(lrs) == epochs * ITERS_PER_EPOCH
    assert all(a < b for a, b in zip(lrs, lrs[1:]))


def test_a_scheduler_with_its_own_end_is_kept(tmp_path):
    cfg = train_tool_config(str(REPO / 'configs' / 'rollingq_avdigits.py'),
                            '--work-dir', str(tmp_path), '--cfg-options',
                            'train_cfg.max_epochs=1',
                            'param_scheduler.1.end=20')
    assert drop_unreached_schedulers(cfg) == []
    assert [s.type for s in cfg.param_scheduler] == ['LinearLR',
                                                     'CosineAnnealingLR']
