"""OGMGEHook on real mmengine Runners (CPU): once per optimizer step, with
gradient accumulation, on unscaled gradients under a loss scaler and bf16
autocast, identical on 2 gloo ranks and 1 process, logged on AV-Digits.

Run as a script, this file is one rank of the 2-process test.
"""
import os
import sys
from pathlib import Path
from uuid import uuid4

import pytest
import torch
import torch.nn as nn
from mmengine.dist import get_rank
from mmengine.model import is_model_wrapper
from mmengine.optim import OptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.runner import Runner

from rollingq_mm.engine import OGMGEHook
from rollingq_mm.engine.hooks import ogm_ge_hook
from rollingq_mm.utils import exit_distributed_cleanly

from toy_av import ToyAVDataset, ToyAVModel

IN_DIM, CHANNELS, CLASSES, SAMPLES = 5, 8, 3, 16


def toy_dataset() -> ToyAVDataset:
    """Audio tokens carry the class, visual tokens a weaker copy of it, so
    the audio part of the classifier leads and gets modulated."""
    generator = torch.Generator().manual_seed(0)
    prototypes = torch.randn(CLASSES, IN_DIM, generator=generator)
    labels = torch.arange(SAMPLES) % CLASSES
    audio = 2 * prototypes[labels][:, None] + \
        0.1 * torch.randn(SAMPLES, 4, IN_DIM, generator=generator)
    visual = 0.3 * prototypes[labels][:, None] + \
        torch.randn(SAMPLES, 3, IN_DIM, generator=generator)
    return ToyAVDataset(audio, visual, labels)


def toy_model() -> ToyAVModel:
    """Encoders and tokenizers per modality, as AudioVisualRecognizer names
    them (OGMGEHook's default towers), and the real ConcatFusionHead."""
    return ToyAVModel(
        dict(type='ConcatFusionHead', num_classes=CLASSES,
             in_channels=CHANNELS, init_cfg=None), IN_DIM, CHANNELS,
        tokenizers=True)


class ScaledAutocastOptimWrapper(OptimWrapper):
    """AmpOptimWrapper's order on CPU (mmengine's needs a GPU): bf16
    autocast around the forward, the loss multiplied by a GradScaler, whose
    ``step`` unscales the gradients and then calls ``optimizer.step``."""

    def __init__(self, init_scale: float, **kwargs) -> None:
        super().__init__(**kwargs)
        self.loss_scaler = torch.amp.GradScaler(
            'cpu', init_scale=init_scale, growth_interval=10**6)

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        self.loss_scaler.scale(loss).backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs) -> None:
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update()

    def optim_context(self, model: nn.Module):
        return torch.autocast('cpu', dtype=torch.bfloat16)


def build_runner(work_dir, batch_size: int = 8, max_epochs: int = 1,
                 accumulative_counts: int = 1, optim_wrapper=None,
                 launcher: str = 'none', seed: int = 0,
                 checkpoint: bool = False, resume_from=None, **hook_args):
    """A Runner training toy_model() with OGMGEHook(**hook_args)."""
    torch.manual_seed(seed)
    model = toy_model()
    if callable(optim_wrapper):
        optim_wrapper = optim_wrapper(
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    return Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'ogm_ge_{uuid4().hex}',
        train_dataloader=dict(
            dataset=toy_dataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=batch_size,
            num_workers=0),
        optim_wrapper=optim_wrapper or dict(
            optimizer=dict(type='SGD', lr=0.1),
            accumulative_counts=accumulative_counts),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1)
            if checkpoint else None),
        custom_hooks=[dict(type='OGMGEHook', **hook_args)],
        default_scope='mmaction',
        launcher=launcher,
        resume=resume_from is not None,
        load_from=resume_from,
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=seed))


def final_state(runner) -> dict:
    model = runner.model
    if is_model_wrapper(model):
        model = model.module
    return {key: value.detach().clone()
            for key, value in model.state_dict().items()}


def ogm_hook(runner) -> OGMGEHook:
    return next(hook for hook in runner.hooks
                if isinstance(hook, OGMGEHook))


def assert_states_close(actual: dict, expected: dict, atol: float) -> None:
    assert actual.keys() == expected.keys()
    for key in expected:
        assert torch.allclose(actual[key], expected[key], atol=atol), key


@pytest.fixture(scope='module')
def full_batch_run(tmp_path_factory):
    """One process, batch 8, 2 epochs: 4 modulated steps with noise."""
    runner = build_runner(tmp_path_factory.mktemp('full'), max_epochs=2,
                          alpha=0.5)
    runner.train()
    return runner


def test_the_dominant_modality_is_modulated_and_logged(full_batch_run):
    hub = full_batch_run.message_hub
    assert ogm_hook(full_batch_run).num_steps == 4
    coef_audio = hub.get_scalar('train/ogm/coef_audio').data[0]
    coef_visual = hub.get_scalar('train/ogm/coef_visual').data[0]
    ratio_audio = hub.get_scalar('train/ogm/ratio_audio').data[0]
    ratio_visual = hub.get_scalar('train/ogm/ratio_visual').data[0]
    assert len(coef_audio) == 4
    for k_a, k_v, r_a, r_v in zip(coef_audio, coef_visual, ratio_audio,
                                  ratio_visual):
        assert r_a * r_v == pytest.approx(1.0)
        lead, lead_k, other_k = (r_a, k_a, k_v) if r_a > 1 else \
            (r_v, k_v, k_a)
        assert lead_k == pytest.approx(1 - float(torch.tanh(
            torch.tensor(0.5 * lead, dtype=torch.float64))))
        assert other_k == 1.0
    assert full_batch_run.model.fusion_head.ogm_scores is None


def test_accumulation_modulates_once_per_step_like_the_full_batch(
        tmp_path, full_batch_run):
    """Batch 4 x accumulation 2 equals batch 8: the scores of both
    micro-batches decide one modulation of the summed gradients."""
    runner = build_runner(tmp_path, batch_size=4, max_epochs=2,
                          accumulative_counts=2, alpha=0.5)
    runner.train()
    assert ogm_hook(runner).num_steps == 4
    assert_states_close(final_state(runner), final_state(full_batch_run),
                        atol=1e-5)


def test_resume_continues_the_noise_seeds(tmp_path, full_batch_run):
    """1 epoch, checkpoint, resume for the 2nd: the same parameters as 2
    epochs in one go (the step count, the noise's seed offset, is in the
    checkpoint)."""
    build_runner(tmp_path, max_epochs=1, checkpoint=True, alpha=0.5).train()
    resumed = build_runner(tmp_path, max_epochs=2, alpha=0.5,
                           resume_from=str(tmp_path / 'epoch_1.pth'))
    resumed.train()
    assert ogm_hook(resumed).num_steps == 4
    assert_states_close(final_state(resumed), final_state(full_batch_run),
                        atol=1e-6)


def test_inactive_epochs_leave_the_gradients_alone(tmp_path):
    plain = build_runner(tmp_path / 'plain', max_epochs=1, alpha=0.0,
                         noise=False)
    plain.train()
    inactive = build_runner(tmp_path / 'inactive', max_epochs=1, alpha=5.0,
                            begin_epoch=2)
    inactive.train()
    assert ogm_hook(inactive).num_steps == 0
    assert_states_close(final_state(inactive), final_state(plain), atol=0)
    active = build_runner(tmp_path / 'active', max_epochs=1, alpha=5.0,
                          noise=False)
    active.train()
    assert not torch.allclose(final_state(active)['encoders.audio.weight'],
                              final_state(plain)['encoders.audio.weight'])


def test_statistics_and_noise_use_unscaled_fp32_gradients(tmp_path,
                                                          monkeypatch):
    """Under bf16 autocast and a loss scale of 2**12 the hook sees the same
    float32 gradients as with a loss scale of 1: GradScaler.step unscales
    before optimizer.step, whose pre-hook modulates. mmengine's own
    AmpOptimWrapper(bfloat16), let run on CPU (its GradScaler is then
    disabled), gives the same gradients as the emulation at scale 1."""
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    seen = []

    def spy(grad, coefficient, generator=None):
        seen[-1].append((grad.dtype, grad.clone()))
        return modulate_gradient_(grad, coefficient, generator)

    modulate_gradient_ = ogm_ge_hook.modulate_gradient_
    monkeypatch.setattr(ogm_ge_hook, 'modulate_gradient_', spy)
    for scale in (1.0, 2.0**12):
        seen.append([])
        wrapper = lambda **kw: ScaledAutocastOptimWrapper(  # noqa: E731
            init_scale=scale, **kw)
        build_runner(tmp_path / str(scale), optim_wrapper=wrapper,
                     alpha=0.5).train()
    seen.append([])
    build_runner(tmp_path / 'amp', alpha=0.5, optim_wrapper=dict(
        type='AmpOptimWrapper', dtype='bfloat16',
        optimizer=dict(type='SGD', lr=0.1))).train()
    unscaled, scaled, mmengine_amp = seen
    # 2 steps x 2 towers x 4 tensors
    assert len(scaled) == len(unscaled) == len(mmengine_amp) == 16
    for (dtype, grad), (_, reference), (amp_dtype, amp_grad) in zip(
            scaled, unscaled, mmengine_amp):
        assert dtype == amp_dtype == torch.float32
        assert torch.allclose(grad, reference, rtol=1e-4, atol=1e-7)
        assert torch.allclose(amp_grad, reference, rtol=1e-4, atol=1e-7)


def test_encoder_modules_are_checked(tmp_path):
    runner = build_runner(tmp_path, encoder_modules=dict(
        audio=['encoders.audio']))
    with pytest.raises(ValueError, match='one entry per modality'):
        runner.train()
    runner = build_runner(tmp_path / 'str', encoder_modules=dict(
        audio='encoders.audio', visual=['encoders.visual']))
    with pytest.raises(ValueError, match="encoder_modules\\['audio'\\]"):
        runner.train()
    runner = build_runner(tmp_path / 'shared', encoder_modules=dict(
        audio=['encoders'], visual=['encoders.visual']))
    with pytest.raises(ValueError, match='also in the encoder'):
        runner.train()
    with pytest.raises(ValueError, match='end_epoch'):
        OGMGEHook(begin_epoch=3, end_epoch=2)


def test_two_gloo_ranks_equal_one_process_with_noise(tmp_path,
                                                     full_batch_run):
    """2 ranks x batch 4 vs 1 process x batch 8, 4 steps with GE noise."""
    from gloo_ranks import launch_two_ranks
    launch_two_ranks(__file__, tmp_path, timeout=300)
    states = [torch.load(tmp_path / f'rank{rank}.pt') for rank in range(2)]
    assert_states_close(states[1], states[0], atol=0)
    assert_states_close(states[0], final_state(full_batch_run), atol=1e-5)


def test_avdigits_run_logs_the_scalars(tmp_path):
    from tiny_runs import tiny_avdigits_config
    cfg = tiny_avdigits_config(tmp_path, name='ogm_ge_avdigits.py',
                               train_samples=16, val_samples=8,
                               max_epochs=1)
    runner = Runner.from_cfg(cfg)
    runner.train()
    scalars = (Path(runner.log_dir) / 'vis_data' / 'scalars.json'
               ).read_text()
    for key in ('ogm/coef_audio', 'ogm/coef_visual', 'ogm/ratio_audio',
                'ogm/ratio_visual'):
        assert f'"{key}"' in scalars, key
    coefs = runner.message_hub.get_scalar('train/ogm/coef_audio').data[0]
    assert len(coefs) == 2 and all(0 < k <= 1 for k in coefs)


def distributed_worker(work_dir: str) -> None:
    """One rank of the 2-process test: batch 4 per rank, 2 epochs."""
    runner = build_runner(work_dir, batch_size=4, max_epochs=2,
                          launcher='pytorch', alpha=0.5)
    runner.train()
    torch.save(final_state(runner),
               Path(work_dir) / f'rank{get_rank()}.pt')
    exit_distributed_cleanly()


if __name__ == '__main__':
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    distributed_worker(*sys.argv[1:])
