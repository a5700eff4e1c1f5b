"""RNGStateHook and per-sample seeds on real Runners and real AV-Digits data.

The crash test (test_crash_resume.py) shows the exact resume end to end;
these show why it needs the hook (mmengine alone resumes with other random
draws), that validation does not shift the training streams, and that the
per-sample seeds make the data independent of workers and restarts.
"""
import multiprocessing
import random

import numpy as np
import pytest
import torch
from mmengine.runner import Runner
from tiny_runs import tiny_avdigits_config

from rollingq_mm.compat import safe_torch_load
from rollingq_mm.utils import SampleSeededPipeline, get_rng_state, sample_seed


def trained(work_dir, rng_hook: bool = True, validate: bool = True,
            resume_from=None, max_epochs: int = 2) -> dict:
    """Final state dict of a tiny in-process run (dropout 0.1, 2 epochs)."""
    cfg = tiny_avdigits_config(work_dir, train_samples=16, max_epochs=2)
    cfg.train_cfg.max_epochs = max_epochs
    if not rng_hook:
        cfg.default_hooks.pop('rng_state')
    if not validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.save_best = None
    if resume_from is not None:
        cfg.resume, cfg.load_from = True, str(resume_from)
    runner = Runner.from_cfg(cfg)
    runner.train()
    return {k: v.clone() for k, v in runner.model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    """Whether two state dicts are equal bit for bit."""
    return all(torch.equal(a[k], b[k]) for k in a)


def test_without_the_hook_a_resume_draws_other_random_numbers(tmp_path):
    """mmengine alone: the resumed epoch 2 differs (dropout, transforms)."""
    full = trained(tmp_path / 'full', rng_hook=False)
    resumed = trained(tmp_path / 'resumed', rng_hook=False,
                      resume_from=tmp_path / 'full' / 'epoch_1.pth')
    assert not same(full, resumed)


def test_with_the_hook_a_resume_is_exact_and_validation_changes_nothing(
        tmp_path):
    full = trained(tmp_path / 'full')
    assert 'rng_state' in safe_torch_load(
        str(tmp_path / 'full' / 'epoch_1.pth'))
    resumed = trained(tmp_path / 'resumed',
                      resume_from=tmp_path / 'full' / 'epoch_1.pth')
    assert same(full, resumed)
    assert same(full, trained(tmp_path / 'no_val', validate=False))


def loader_batches(tmp_path, num_workers: int, epochs: int = 2) -> list:
    """The training batches of ``epochs`` epochs, pipeline seeded per sample.

    ``FixAudioLength`` crops clips longer than 0.975 s at a random start.
    """
    cfg = tiny_avdigits_config(tmp_path, train_samples=16,
                               num_workers=num_workers,
                               persistent_workers=num_workers > 0)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)
    epoch = multiprocessing.RawValue('q', 0)
    loader.dataset.pipeline = SampleSeededPipeline(loader.dataset.pipeline,
                                                   seed=0, epoch=epoch)
    batches = []
    for index in range(epochs):
        epoch.value = index
        loader.sampler.set_epoch(index)
        np.random.seed(index)
        batches.append([torch.stack(batch['inputs']['audios'])
                        for batch in loader])
    return batches


def test_per_sample_seeds_make_data_independent_of_workers(tmp_path):
    in_process = loader_batches(tmp_path / 'w0', num_workers=0)
    persistent = loader_batches(tmp_path / 'w2', num_workers=2)
    for epoch_a, epoch_b in zip(in_process, persistent):
        for a, b in zip(epoch_a, epoch_b):
            assert torch.equal(a, b)
    # The crops are random: the two epochs' audio differs beyond the order.
    sums = [sorted(float(x.sum()) for b in epoch for x in b)
            for epoch in in_process]
    assert sums[0] != sums[1]


def test_sample_seeded_pipeline_restores_the_callers_streams():
    epoch = type('Epoch', (), {'value': 3})()

    def draws(results: dict) -> dict:
        results['draws'] = (random.random(), float(np.random.rand()),
                            float(torch.rand(())))
        return results

    pipeline = SampleSeededPipeline(draws, seed=7, epoch=epoch)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    before = get_rng_state()
    first = pipeline(dict(sample_idx=5))['draws']
    after = get_rng_state()
    assert before == after
    random.random()
    assert pipeline(dict(sample_idx=5))['draws'] == first
    assert pipeline(dict(sample_idx=6))['draws'] != first
    epoch.value = 4
    assert pipeline(dict(sample_idx=5))['draws'] != first
    assert sample_seed(7, 3, 5) != sample_seed(7, 5, 3)


def test_a_loading_error_names_the_sample_and_its_files():
    def broken(results: dict) -> dict:
        raise RuntimeError('decoder failed')

    pipeline = SampleSeededPipeline(broken, seed=0,
                                    epoch=type('E', (), {'value': 0})())
    with pytest.raises(RuntimeError) as info:
        pipeline(dict(sample_idx=2, img_path='images/2.png',
                      audio_path='audio/2.flac'))
    assert 'sample 2 (images/2.png, audio/2.flac)' in ''.join(
        info.value.__notes__)
