"""PMRHook on a real mmengine Runner (CPU): prototype pass, logging, DDP,
gradient accumulation, and a tiny real AV-Digits run.

The file is also the worker script of the 2-process test: run as
``python test_pmr.py WORK_DIR`` with RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT set, it trains one rank with PMRHook and saves
its parameters, prototypes and scalars.
"""
import json
import sys
from pathlib import Path
from uuid import uuid4

import pytest
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.runner import Runner

from rollingq_mm.engine import PMRHook
from rollingq_mm.utils import exit_distributed_cleanly

from toy_av import ToyAVDataset, ToyAVModel

IN_DIM, CHANNELS, CLASSES, SAMPLES = 6, 8, 4, 16


def toy_dataset(separation: float = 1.0, visual_signal: float = 0.3,
                visual_noise: float = 1.0) -> ToyAVDataset:
    """Audio tokens carry the class (scaled by ``separation``), visual
    tokens a weaker class signal plus noise."""
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(2, CLASSES, IN_DIM, generator=generator)
    labels = torch.arange(SAMPLES) % CLASSES
    audio = separation * centres[0][labels][:, None] + \
        0.3 * torch.randn(SAMPLES, 3, IN_DIM, generator=generator)
    visual = visual_signal * centres[1][labels][:, None] + \
        visual_noise * torch.randn(SAMPLES, 2, IN_DIM, generator=generator)
    return ToyAVDataset(audio, visual, labels)


def toy_model() -> ToyAVModel:
    """Linear token encoders and the real ConcatFusionHead; the 'tensor'
    mode returns the tokens, as AudioVisualRecognizer does."""
    return ToyAVModel(
        dict(type='ConcatFusionHead', num_classes=CLASSES,
             in_channels=CHANNELS, init_cfg=None), IN_DIM, CHANNELS)


def find_pmr_hook(runner) -> PMRHook:
    return next(h for h in runner.hooks if isinstance(h, PMRHook))


class CapturePrototypes(Hook):
    """After PMRHook's pass: the subset, the prototypes and an independent
    recomputation (eval-mode features of the subset, class means, Eq. 12)."""

    priority = 'BELOW_NORMAL'

    def __init__(self) -> None:
        self.epochs = []

    def before_train_epoch(self, runner) -> None:
        hook = find_pmr_hook(runner)
        model = runner.model.module if hasattr(runner.model, 'module') \
            else runner.model
        indices = list(hook._loader.dataset.indices)
        dataset = hook._loader.dataset.dataset
        was_training = model.training
        model.eval()
        with torch.no_grad():
            items = [dataset[i] for i in indices]
            feats = model.extract_feat(dict(
                audio=[item['inputs']['audio'] for item in items],
                visual=[item['inputs']['visual'] for item in items]))
        model.train(was_training)
        labels = [int(item['data_samples'].gt_label) for item in items]
        expected = {}
        for m, tokens in feats.items():
            pooled = tokens.double().mean(1)
            means = torch.stack([
                pooled[[i for i, y in enumerate(labels) if y == k]].mean(0)
                for k in range(CLASSES)
            ])
            if self.epochs:
                previous = self.epochs[-1]['prototypes'][m]
                means = hook.momentum * previous + (1 - hook.momentum) * means
            expected[m] = means
        self.epochs.append(dict(
            indices=indices, expected=expected,
            prototypes={m: p.clone()
                        for m, p in hook.regulariser.prototypes.items()}))


def build_runner(work_dir, max_epochs: int = 1, batch_size: int = 4,
                 accumulative_counts: int = 1, launcher: str = 'none',
                 dataset=None, extra_hooks=(), amp: bool = False,
                 **hook_args):
    """A Runner training ToyAVModel with PMRHook(**hook_args)."""
    torch.manual_seed(0)
    hook_args.setdefault('subset_ratio', 0.5)
    return Runner(
        model=toy_model(),
        work_dir=str(work_dir),
        experiment_name=f'pmr_{uuid4().hex}',
        train_dataloader=dict(
            dataset=dataset or toy_dataset(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=batch_size,
            num_workers=0),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=0.1, momentum=0.9),
            accumulative_counts=accumulative_counts,
            **(dict(type='AmpOptimWrapper', dtype='bfloat16') if amp
               else {})),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='PMRHook', **hook_args), *extra_hooks],
        default_scope='mmaction',
        launcher=launcher,
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0))


def logged(runner, key: str) -> list:
    return runner.message_hub.get_scalar(f'pmr/{key}').data[0].tolist()


def parameters(runner) -> dict:
    model = runner.model.module if hasattr(runner.model, 'module') \
        else runner.model
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_prototypes_are_recomputed_each_epoch_on_the_same_subset(tmp_path):
    capture = CapturePrototypes()
    runner = build_runner(tmp_path, max_epochs=3, entropy_epochs=1,
                          momentum=0.3, extra_hooks=[capture])
    runner.train()
    assert len(capture.epochs) == 3
    first = capture.epochs[0]['indices']
    assert len(first) == 8
    assert all(epoch['indices'] == first for epoch in capture.epochs)
    for epoch in capture.epochs:
        for m in ('audio', 'visual'):
            assert torch.allclose(epoch['prototypes'][m], epoch['expected'][m],
                                  atol=1e-6), m
    # Training moved the encoders, so the prototypes moved.
    assert not torch.allclose(capture.epochs[0]['prototypes']['visual'],
                              capture.epochs[2]['prototypes']['visual'])
    for key in ('ratio', 'coef_audio', 'coef_visual', 'proto_acc_audio',
                'proto_acc_visual'):
        assert len(logged(runner, key)) == 3, key
    ratio = logged(runner, 'ratio')[0]
    assert ratio > 1  # audio carries the class: it dominates
    assert logged(runner, 'coef_audio')[0] == 0.0
    assert logged(runner, 'coef_visual')[0] > 0.0
    assert logged(runner, 'proto_acc_audio')[0] > \
        logged(runner, 'proto_acc_visual')[0]
    scalars = [json.loads(line) for line in Path(
        runner.log_dir, 'vis_data', 'scalars.json').read_text().splitlines()]
    assert any('pmr/ratio' in row for row in scalars)
    assert any('loss_pmr_visual' in row for row in scalars)


def test_pmr_changes_training_only_in_its_active_epochs(tmp_path):
    off = build_runner(tmp_path / 'off', max_epochs=1, begin_epoch=2)
    off.train()
    reference = Runner(
        model=(torch.manual_seed(0), toy_model())[1],
        work_dir=str(tmp_path / 'plain'),
        experiment_name=f'plain_{uuid4().hex}',
        train_dataloader=dict(
            dataset=toy_dataset(), batch_size=4, num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False)),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        train_cfg=dict(by_epoch=True, max_epochs=1),
        default_scope='mmaction', randomness=dict(seed=0))
    reference.train()
    on = build_runner(tmp_path / 'on', max_epochs=1)
    on.train()
    plain, inactive, active = (parameters(r) for r in (reference, off, on))
    for key in plain:
        assert torch.equal(plain[key], inactive[key]), key
    assert not torch.allclose(plain['encoders.visual.weight'],
                              active['encoders.visual.weight'])


def test_accumulation_matches_the_same_total_batch(tmp_path):
    """PMR's terms are per-sample means: two accumulated micro-batches of 2
    give the gradient of one batch of 4. The coefficient is per batch (Eq.
    8), so the toy data saturate it (gamma = 1 in every micro-batch and
    batch), which the test checks first."""
    dataset = toy_dataset(separation=4.0, visual_signal=0.0,
                          visual_noise=0.01)
    big = build_runner(tmp_path / 'big', batch_size=4, dataset=dataset,
                       entropy_epochs=1)
    big.train()
    accumulated = build_runner(tmp_path / 'acc', batch_size=2,
                               accumulative_counts=2, dataset=dataset,
                               entropy_epochs=1)
    accumulated.train()
    for runner in (big, accumulated):
        assert logged(runner, 'coef_visual') == [1.0]
    first, second = parameters(big), parameters(accumulated)
    for key in first:
        assert torch.allclose(first[key], second[key], atol=1e-6), key


def test_bf16_amp_training_keeps_pmr_in_float32(tmp_path, monkeypatch):
    """Under AmpOptimWrapper (bfloat16 autocast on CPU) the pooled features
    reach PMR in bfloat16, its terms come out in float32, and the epoch's
    rho and coefficients stay close to a float32 run."""
    # AmpOptimWrapper refuses machines without an accelerator before it
    # starts; its autocast and (disabled) GradScaler run on CPU.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    seen = []

    class Record(Hook):
        priority = 'BELOW_NORMAL'

        def before_train_epoch(self, runner) -> None:
            head = find_pmr_hook(runner)._head
            regulariser = head.feature_regulariser

            def recording(pooled, labels):
                losses = regulariser(pooled, labels)
                seen.append((pooled['visual'].dtype,
                             {v.dtype for v in losses.values()}))
                return losses

            head.feature_regulariser = recording

    fp32 = build_runner(tmp_path / 'fp32', entropy_epochs=1)
    fp32.train()
    amp = build_runner(tmp_path / 'amp', entropy_epochs=1, amp=True,
                       extra_hooks=[Record()])
    amp.train()
    assert seen and all(dtype == torch.bfloat16 for dtype, _ in seen)
    assert all(dtypes == {torch.float32} for _, dtypes in seen)
    for key in ('ratio', 'coef_visual', 'proto_acc_audio'):
        assert logged(amp, key)[0] == pytest.approx(logged(fp32, key)[0],
                                                    rel=0.05, abs=1e-3), key


def test_bad_hook_arguments_name_the_key():
    for kwargs, key in ((dict(alpha=-1), 'alpha'), (dict(mu=-0.1), 'mu'),
                        (dict(momentum=1.0), 'momentum'),
                        (dict(begin_epoch=0), 'begin_epoch'),
                        (dict(begin_epoch=3, end_epoch=2), 'end_epoch'),
                        (dict(entropy_epochs=-1), 'entropy_epochs'),
                        (dict(subset_ratio=0.0), 'subset_ratio')):
        with pytest.raises(ValueError, match=key):
            PMRHook(**kwargs)


def test_prototypes_survive_checkpoint_and_resume(tmp_path):
    capture = CapturePrototypes()
    runner = build_runner(tmp_path, max_epochs=1, extra_hooks=[capture])
    runner.default_hooks = None
    runner.train()
    runner.save_checkpoint(str(tmp_path), 'epoch_1.pth')
    saved = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    hook = find_pmr_hook(runner)
    for m, value in hook.regulariser.prototypes.items():
        assert torch.equal(saved['pmr_prototypes'][m], value.cpu())
    resumed = build_runner(tmp_path / 'resumed', max_epochs=1)
    resumed_hook = find_pmr_hook(resumed)
    resumed_hook.after_load_checkpoint(resumed, saved)
    assert torch.equal(resumed_hook._loaded_prototypes['audio'],
                       hook.regulariser.prototypes['audio'])


DDP_ARGS = dict(max_epochs=2, entropy_epochs=1, mu=0.1)


def snapshot(runner, path: Path) -> None:
    hook = find_pmr_hook(runner)
    torch.save(dict(
        parameters=parameters(runner),
        prototypes=hook.regulariser.prototypes,
        coef_visual=logged(runner, 'coef_visual'),
        coef_audio=logged(runner, 'coef_audio'),
        ratio=logged(runner, 'ratio'),
        proto_acc=logged(runner, 'proto_acc_visual'),
        world_size=get_world_size()), path)


def test_two_gloo_ranks_train_as_one_process_with_the_total_batch(tmp_path):
    from gloo_ranks import launch_two_ranks  # tests/helpers (conftest)
    launch_two_ranks(__file__, tmp_path / 'ddp')
    single = build_runner(tmp_path / 'single', batch_size=4, **DDP_ARGS)
    single.train()
    snapshot(single, tmp_path / 'single.pt')
    reference = torch.load(tmp_path / 'single.pt', weights_only=False)
    # The coefficient is strictly inside (0, 1): a rank-local rho would
    # give other coefficients.
    assert all(0.0 < c < 1.0 for c in reference['coef_visual'] +
               reference['coef_audio'] if c > 0)
    assert any(c > 0 for c in reference['coef_visual'] +
               reference['coef_audio'])
    ranks = [torch.load(tmp_path / 'ddp' / f'rank{rank}.pt',
                        weights_only=False) for rank in range(2)]
    for result in ranks:
        assert result['world_size'] == 2
        for key in ('coef_visual', 'coef_audio', 'ratio', 'proto_acc'):
            assert result[key] == pytest.approx(reference[key], abs=1e-5), \
                key
        for m, value in reference['prototypes'].items():
            assert torch.allclose(result['prototypes'][m], value,
                                  atol=1e-5), m
        for key, value in reference['parameters'].items():
            assert torch.allclose(result['parameters'][key], value,
                                  atol=1e-5), key


def distributed_worker(work_dir: str) -> None:
    """One rank of the 2-process test (see the module docstring)."""
    runner = build_runner(work_dir, batch_size=2, launcher='pytorch',
                          **DDP_ARGS)
    runner.train()
    snapshot(runner, Path(work_dir) / f'rank{get_rank()}.pt')
    exit_distributed_cleanly()


if __name__ == '__main__':
    distributed_worker(*sys.argv[1:])


def test_tiny_avdigits_run_logs_pmr_and_recomputes_on_one_subset(tmp_path):
    """configs/pmr_avdigits.py, shrunk, on real AV-Digits clips: the
    prototype pass runs through the real recognizer ('tensor' mode, views
    folded) at every epoch start on the same subset, and the scalars are
    logged every epoch."""
    from tiny_runs import tiny_avdigits_config  # tests/helpers (conftest)
    cfg = tiny_avdigits_config(tmp_path, name='pmr_avdigits.py',
                               train_samples=16, val_samples=8,
                               batch_size=8, max_epochs=2)
    cfg.custom_hooks[0].subset_ratio = 0.5
    cfg.default_hooks.checkpoint = None
    runner = Runner.from_cfg(cfg)
    indices = []

    class Capture(Hook):
        priority = 'BELOW_NORMAL'

        def before_train_epoch(self, runner) -> None:
            hook = find_pmr_hook(runner)
            indices.append(list(hook._loader.dataset.indices))
            indices.append({m: p.clone() for m, p in
                            hook.regulariser.prototypes.items()})

    runner.register_hook(Capture())
    runner.train()
    assert indices[0] == indices[2] and len(indices[0]) == 8
    assert not torch.equal(indices[1]['visual'], indices[3]['visual'])
    for key in ('ratio', 'coef_audio', 'coef_visual', 'proto_acc_audio',
                'proto_acc_visual'):
        values = logged(runner, key)
        assert len(values) == 2 and all(v == v for v in values), key
    log = Path(runner.log_dir, f'{runner.timestamp}.log').read_text()
    assert log.count('PMRHook epoch') == 4
    assert 'loss_pmr_visual' in log
