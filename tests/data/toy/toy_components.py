"""Tiny model, dataset and hook for tests of the tools and the compat layer.

Imported by ``tests/data/toy/toy_config.py`` through ``custom_imports`` (the
tests put this folder on ``PYTHONPATH``).
"""
import os.path as osp

import torch
import torch.nn as nn
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from torch.utils.data import Dataset

from mmaction.registry import DATASETS, HOOKS, METRICS, MODELS


@MODELS.register_module()
class ToyRegressor(BaseModel):
    """Linear regression y = w.x on 4 features, with a mean-squared loss."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=(out - data_samples).pow(2).mean())
        if mode == 'predict':
            return [dict(pred=p, target=t) for p, t in zip(out, data_samples)]
        return out


@DATASETS.register_module()
class ToyLinearDataset(Dataset):
    """``length`` fixed samples of y = x . (1, -2, 3, 0.5)."""

    def __init__(self, length: int = 32) -> None:
        gen = torch.Generator().manual_seed(0)
        self.x = torch.randn(length, 4, generator=gen)
        self.y = self.x @ torch.tensor([1.0, -2.0, 3.0, 0.5])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return dict(inputs=self.x[i], data_samples=self.y[i])


@HOOKS.register_module()
class DumpParamsHook(Hook):
    """Save each rank's final parameters to ``work_dir/params_rank{r}.pt``."""

    def after_run(self, runner) -> None:
        model = getattr(runner.model, 'module', runner.model)
        params = {k: v.detach().clone()
                  for k, v in model.state_dict().items()}
        torch.save(params,
                   osp.join(runner.work_dir, f'params_rank{get_rank()}.pt'))


@METRICS.register_module()
class ToyMSEMetric(BaseMetric):
    """Mean squared error of the toy regressor."""

    def process(self, data_batch, data_samples) -> None:
        self.results.extend(
            float((s['pred'] - s['target'])**2) for s in data_samples)

    def compute_metrics(self, results: list) -> dict:
        return dict(mse=sum(results) / len(results))
