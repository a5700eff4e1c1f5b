"""A plain mmengine project with no rollingq component (run as a script).

``python train_plain.py ROOT plugin|none`` trains a linear model 2 epochs in
``ROOT/run`` (checkpoints, best checkpoint by validation MSE), prints the
files written as ``FILES <json>``, trains 3 epochs from scratch in
``ROOT/full`` and resumes ``ROOT/run`` to 3 epochs (mmengine's own
auto-resume), printing ``RESUMED`` or ``RESUME FAILED <error>``. With
``plugin`` it first does ``import rollingq_mm``, as ``custom_imports`` would.
A hook stores an ``argparse.Namespace`` in each checkpoint's ``meta``, as a
project's own hook may store any object (mmengine under torch < 2.6 resumed
such files; a weights-only load refuses them).
The lr schedule ends at epoch 3 in every run (mmengine clips an open end to
``max_epochs``, which would give the 2-epoch run and its resume another
schedule than the 3-epoch run).
"""
import argparse
import json
import os
import re
import sys

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS
from mmengine.runner import Runner
from torch.utils.data import Dataset

if sys.argv[2] == 'plugin':
    import rollingq_mm  # noqa: F401


@MODELS.register_module()
class PlainLinear(BaseModel):
    """y = w.x + b on 4 features, mean-squared loss."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs)).squeeze(-1)
        targets = torch.stack(data_samples)
        if mode == 'loss':
            return dict(loss=(out - targets).pow(2).mean())
        return [dict(pred=o, gt=t) for o, t in zip(out, targets)]


@DATASETS.register_module()
class PlainLinearData(Dataset):
    """``length`` samples of a fixed linear function (seeded by length)."""

    def __init__(self, length: int) -> None:
        generator = torch.Generator().manual_seed(length)
        self.x = torch.randn(length, 4, generator=generator)
        self.y = self.x @ torch.tensor([1.0, -2.0, 0.5, 3.0])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> dict:
        return dict(inputs=self.x[index], data_samples=self.y[index])


@METRICS.register_module()
class PlainMSE(BaseMetric):
    """Mean squared error of the predictions."""

    def process(self, data_batch, data_samples) -> None:
        self.results += [float((s['pred'] - s['gt'])**2)
                         for s in data_samples]

    def compute_metrics(self, results: list) -> dict:
        return dict(mse=sum(results) / len(results))


@HOOKS.register_module()
class PlainNoteHook(Hook):
    """Stores a non-tensor object in every checkpoint."""

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['meta']['note'] = argparse.Namespace(epoch=runner.epoch)


def config(work_dir: str, max_epochs: int, resume: bool = False) -> Config:
    loader = dict(batch_size=4, num_workers=0,
                  sampler=dict(type='DefaultSampler', shuffle=True))
    return Config(dict(
        default_scope='mmengine',
        model=dict(type='PlainLinear'),
        work_dir=work_dir,
        experiment_name=f'{os.path.basename(work_dir)}_{max_epochs}',
        train_dataloader=dict(
            loader, dataset=dict(type='PlainLinearData', length=32)),
        val_dataloader=dict(
            loader, dataset=dict(type='PlainLinearData', length=8)),
        val_evaluator=dict(type='PlainMSE'),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs, val_interval=1),
        val_cfg=dict(),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[2], end=3),
        default_hooks=dict(checkpoint=dict(
            type='CheckpointHook', interval=1, max_keep_ckpts=2,
            save_best='mse', rule='less')),
        custom_hooks=[dict(type='PlainNoteHook')],
        randomness=dict(seed=0),
        resume=resume))


def written_files(folder: str) -> list:
    """Files under ``folder``, timestamps replaced by ``TIME``."""
    names = []
    for parent, _, files in os.walk(folder):
        for name in files:
            path = os.path.relpath(os.path.join(parent, name), folder)
            names.append(re.sub(r'\d{8}_\d{6}', 'TIME', path))
    return sorted(names)


root = sys.argv[1]
Runner.from_cfg(config(f'{root}/run', 2)).train()
print('FILES', json.dumps(written_files(f'{root}/run')))
Runner.from_cfg(config(f'{root}/full', 3)).train()
try:
    Runner.from_cfg(config(f'{root}/run', 3, resume=True)).train()
    print('RESUMED')
except Exception as error:  # noqa: BLE001  (reported to the test)
    print('RESUME FAILED', type(error).__name__, str(error).splitlines()[0])
