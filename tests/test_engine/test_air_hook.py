"""AIRHook on a real mmengine Runner (CPU): rule, logging, resume, 2-rank gloo.

The file is also the worker script of the 2-process tests: run as
``python test_air_hook.py WORK_DIR`` with RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT set, it trains one rank, then reduces
AIRStatistics that only rank 0 filled; with a third argument ``eval_pass``
it trains one rank with ``AIRHook(statistics='eval_pass')``.
"""
import json
import math
import os
import sys
from pathlib import Path
from uuid import uuid4

import pytest
import torch
import torch.nn as nn
from mmaction.registry import DATASETS
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.runner import Runner

from rollingq_mm.engine import AIRHook
from rollingq_mm.models import AIRStatistics
from rollingq_mm.utils import exit_distributed_cleanly
from rollingq_mm.visualization import load_run_curves

import gloo_ranks
from toy_av import ToyAVDataset, ToyAVModel

IN_DIM, CHANNELS, CLASSES, SAMPLES = 6, 16, 4, 16


def toy_dataset(augment: bool = False) -> ToyAVDataset:
    """Audio tokens carry the class, visual tokens only noise; each modality
    has its own strong offset, so its keys cluster in one direction."""
    generator = torch.Generator().manual_seed(0)
    offsets = 3.0 * torch.randn(2, IN_DIM, generator=generator)
    prototypes = torch.randn(CLASSES, IN_DIM, generator=generator)
    labels = torch.arange(SAMPLES) % CLASSES
    audio = offsets[0] + prototypes[labels][:, None] + \
        0.1 * torch.randn(SAMPLES, 6, IN_DIM, generator=generator)
    visual = offsets[1] + \
        0.1 * torch.randn(SAMPLES, 5, IN_DIM, generator=generator)
    return ToyAVDataset(audio, visual, labels, augment)


def toy_model(dropout: float = 0.0) -> ToyAVModel:
    """Linear token encoders and the real RollingQFusionHead."""
    return ToyAVModel(
        dict(type='RollingQFusionHead', num_classes=CLASSES,
             in_channels=CHANNELS, attn_drop=dropout, proj_drop=dropout,
             init_cfg=None), IN_DIM, CHANNELS)


class CaptureStatistics(Hook):
    """Saves the head's reduced epoch statistics and rotation after AIRHook."""

    priority = 'NORMAL'

    def after_train_epoch(self, runner) -> None:
        head = AIRHook.find_head(runner.model)
        rank = get_rank()
        torch.save(
            dict(summary=head.air_statistics.summary(),
                 rotation=head.rotation.clone(),
                 num_rotations=int(head.num_rotations),
                 world_size=get_world_size()),
            Path(runner.work_dir) / f'rank{rank}_epoch{runner.epoch + 1}.pt')


def build_runner(work_dir, max_epochs: int, seed: int = 0,
                 batch_size: int = 4, checkpoint: bool = False,
                 extra_hooks=(), launcher: str = 'none',
                 resume_from=None, train_cfg=None, lr: float = 0.05,
                 dropout: float = 0.0, augment: bool = False, **hook_args):
    """A Runner training ToyAVModel with AIRHook(**hook_args)."""
    torch.manual_seed(seed)
    return Runner(
        model=toy_model(dropout),
        work_dir=str(work_dir),
        experiment_name=f'air_hook_{uuid4().hex}',
        train_dataloader=dict(
            dataset=toy_dataset(augment),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=batch_size,
            num_workers=0),
        optim_wrapper=dict(
            optimizer=dict(type='SGD', lr=lr, momentum=0.9)),
        train_cfg=train_cfg or dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', interval=1)
            if checkpoint else None),
        custom_hooks=[dict(type='AIRHook', **hook_args), *extra_hooks],
        default_scope='mmaction',
        launcher=launcher,
        resume=resume_from is not None,
        load_from=resume_from,
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=seed))


def logged(runner, key: str) -> list:
    """Per-epoch values the hook logged under rollingq/<key>."""
    return runner.message_hub.get_scalar(f'rollingq/{key}').data[0].tolist()


def dataset_air(model: ToyAVModel, rotation: torch.Tensor) -> float:
    """AIR over the whole dataset with the head's rotation set to
    ``rotation`` (eval mode, current weights)."""
    head = model.fusion_head
    saved = head.rotation.clone()
    dataset = toy_dataset()
    head.eval()
    with torch.no_grad():
        head.rotation.copy_(rotation)
        feats = model.extract_feat(
            dict(audio=dataset.audio, visual=dataset.visual))
        _, extras = head(feats)
        head.rotation.copy_(saved)
    return float(extras['air'])


def test_rotations_follow_the_rule_and_the_logs_show_them(tmp_path):
    runner = build_runner(tmp_path, max_epochs=6, max_rotations=2,
                          begin_epoch=2, interval=2, rho=0.5)
    runner.train()
    angles = logged(runner, 'rotation_angle')
    airs = logged(runner, 'air')
    assert [angle > 0 for angle in angles] == [
        False, True, False, True, False, False]
    assert logged(runner, 'num_rotations') == [0, 1, 1, 2, 2, 2]
    assert runner.model.fusion_head.num_rotations.item() == 2
    for air, alpha in zip(airs, logged(runner, 'alpha_audio')):
        assert alpha == pytest.approx(0.5 * (1 + math.tanh(-0.5 * air)))
    shares = [a + v for a, v in zip(logged(runner, 'attn_audio'),
                                    logged(runner, 'attn_visual'))]
    assert all(0.0 < share < 1.0 for share in shares)
    log_file = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert log_file.count('rotated the fusion query') == 2
    assert log_file.count('AIRHook epoch') == 8
    scalars = [json.loads(line) for line in
               (Path(runner.log_dir) / 'vis_data' / 'scalars.json').open()
               if 'rollingq/air' in line]
    assert [line['step'] for line in scalars] == [1, 2, 3, 4, 5, 6]
    assert [line['rollingq/air'] for line in scalars] == pytest.approx(airs)


@pytest.fixture(scope='module')
def first_epoch_air(tmp_path_factory) -> float:
    """AIR of epoch 1 measured by a monitoring-only run."""
    runner = build_runner(tmp_path_factory.mktemp('monitor'), max_epochs=2,
                          enable_rotation=False)
    runner.train()
    head = runner.model.fusion_head
    assert torch.equal(head.rotation, torch.eye(CHANNELS))
    assert head.num_rotations.item() == 0
    assert logged(runner, 'rotation_angle') == [0.0, 0.0]
    assert len(logged(runner, 'air')) == 2
    return logged(runner, 'air')[0]


def test_monitoring_only_logs_air_and_never_rotates(first_epoch_air):
    assert abs(first_epoch_air) > 0.05


def test_threshold_blocks_a_rotation_just_above_the_air(
        tmp_path, first_epoch_air):
    runner = build_runner(tmp_path, max_epochs=1,
                          air_threshold=abs(first_epoch_air) + 1e-4)
    runner.train()
    assert logged(runner, 'air') == [first_epoch_air]
    assert runner.model.fusion_head.num_rotations.item() == 0
    assert torch.equal(runner.model.fusion_head.rotation, torch.eye(CHANNELS))


def test_rotation_just_below_the_threshold_moves_air_towards_zero(
        tmp_path, first_epoch_air):
    runner = build_runner(tmp_path, max_epochs=1,
                          air_threshold=abs(first_epoch_air) - 1e-4)
    runner.train()
    head = runner.model.fusion_head
    assert head.num_rotations.item() == 1
    before = dataset_air(runner.model, torch.eye(CHANNELS))
    after = dataset_air(runner.model, head.rotation)
    assert abs(before) > 0.05
    assert abs(after) < 0.2 * abs(before)


def test_rotation_survives_checkpoint_and_resume(tmp_path):
    first = build_runner(tmp_path, max_epochs=2, checkpoint=True)
    first.train()
    rotation = first.model.fusion_head.rotation.clone()
    assert not torch.equal(rotation, torch.eye(CHANNELS))
    # AIRHook runs before CheckpointHook: epoch 1's checkpoint has the
    # rotation made at the end of epoch 1.
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)
    assert torch.equal(state['state_dict']['fusion_head.rotation'], rotation)
    assert state['state_dict']['fusion_head.num_rotations'].item() == 1

    resumed = build_runner(tmp_path, max_epochs=3, seed=1,
                           resume_from=str(tmp_path / 'epoch_2.pth'))
    assert torch.equal(resumed.model.fusion_head.rotation, torch.eye(CHANNELS))
    resumed.train()
    head = resumed.model.fusion_head
    assert torch.equal(head.rotation, rotation)
    assert head.num_rotations.item() == 1
    # The message hub history is resumed too; epoch 3 adds no rotation.
    assert logged(resumed, 'rotation_angle')[1:] == [0.0, 0.0]
    assert logged(resumed, 'num_rotations') == [1, 1, 1]


def test_zero_query_skips_the_rotation_with_a_warning(tmp_path):
    runner = build_runner(tmp_path, max_epochs=1, lr=0.0)
    head = runner.model.fusion_head
    with torch.no_grad():
        head.attn.q_proj.bias.zero_()
        head.cls_token.zero_()
    runner.train()
    assert head.num_rotations.item() == 0
    assert torch.equal(head.rotation, torch.eye(CHANNELS))
    assert logged(runner, 'rotation_angle') == [0.0]
    log_file = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert 'rotation skipped: the fusion query has norm 0' in log_file


def test_bad_hook_arguments_name_the_key():
    for kwargs, key in ((dict(air_threshold=-0.1), 'air_threshold'),
                        (dict(max_rotations=-1), 'max_rotations'),
                        (dict(rho=-1.0), 'rho'),
                        (dict(interval=0), 'interval'),
                        (dict(rotation_method='qr'), 'rotation_method')):
        with pytest.raises(ValueError, match=key):
            AIRHook(**kwargs)


def test_iteration_based_training_is_refused(tmp_path):
    runner = build_runner(tmp_path, max_epochs=1,
                          train_cfg=dict(by_epoch=False, max_iters=2))
    with pytest.raises(ValueError, match='by_epoch=True'):
        runner.train()


def test_model_without_the_head_is_refused():
    with pytest.raises(ValueError, match='model.fusion_head'):
        AIRHook.find_head(nn.Sequential(nn.Linear(2, 2)))


class VisualClassFromEpoch(Hook):
    """Gives every sample the same visual tokens (the visual probe can only
    predict one class: exactly chance on the class-balanced batches), then,
    from epoch ``reveal_epoch`` (1-based), visual tokens that carry the
    class."""

    def __init__(self, reveal_epoch: int) -> None:
        self.reveal_epoch = reveal_epoch

    def before_train_epoch(self, runner) -> None:
        dataset = runner.train_dataloader.dataset
        if runner.epoch == 0:
            self.informative = dataset.audio[:, :5].clone()
            dataset.visual = dataset.visual[:1].expand_as(dataset.visual)
        if runner.epoch + 1 == self.reveal_epoch:
            dataset.visual = self.informative


def test_startup_log_names_the_token_count_of_each_modality(tmp_path):
    runner = build_runner(tmp_path, max_epochs=1, enable_rotation=False)
    runner.train()
    log_file = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert log_file.count('RollingQFusionHead: tokens per modality: '
                          'audio 6, visual 5 (+1 fusion token)') == 1
    assert 'uniform attention gives 0.500 / 0.417' in log_file
    audio, visual = logged(runner, 'norm_attn_audio'), logged(
        runner, 'norm_attn_visual')
    assert audio[0] + visual[0] == pytest.approx(1.0)
    raw = logged(runner, 'attn_audio')[0], logged(runner, 'attn_visual')[0]
    assert audio[0] != pytest.approx(raw[0] / sum(raw))
    curves = load_run_curves(runner.work_dir)
    assert set(curves.attention) == {'audio', 'visual'}


def test_probe_margin_holds_rotations_until_every_probe_is_above_chance(
        tmp_path):
    margin = 0.05
    runner = build_runner(tmp_path / 'held', max_epochs=5,
                          min_probe_accuracy_margin=margin,
                          extra_hooks=[VisualClassFromEpoch(3)])
    runner.train()
    visual = logged(runner, 'probe_acc_visual')
    audio = logged(runner, 'probe_acc_audio')
    assert visual[:2] == [1 / CLASSES] * 2
    above = [a > 1 / CLASSES + margin and v > 1 / CLASSES + margin
             for a, v in zip(audio, visual)]
    first = above.index(True)
    assert first >= 2
    assert logged(runner, 'num_rotations') == [0] * first + [1] * (5 - first)
    log_file = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert log_file.count('rotation held') == first
    assert (f'AIRHook epoch 1: rotation held: probe top-1 accuracy audio '
            f'{audio[0]:.4f}, visual 0.2500 over 16 samples; each must '
            'exceed chance 0.2500 + min_probe_accuracy_margin 0.05 = '
            '0.3000.') in log_file
    unheld = build_runner(tmp_path / 'unheld', max_epochs=1,
                          extra_hooks=[VisualClassFromEpoch(3)])
    unheld.train()
    assert logged(unheld, 'num_rotations') == [1]
    assert 'rotation held' not in next(
        Path(unheld.log_dir).glob('*.log')).read_text()


def test_bad_probe_margin_names_the_key():
    for margin in (-0.1, 1.0, True, '0.1'):
        with pytest.raises(ValueError, match='min_probe_accuracy_margin'):
            AIRHook(min_probe_accuracy_margin=margin)


def subset_indices(samples: int, seed: int) -> list:
    """The documented eval-pass subset: the first ``samples`` of a seeded
    permutation of the dataset, in index order."""
    permutation = torch.randperm(
        SAMPLES, generator=torch.Generator().manual_seed(seed))
    return sorted(permutation[:samples].tolist())


def eval_statistics(model: ToyAVModel, indices: list) -> dict:
    """Mean keys and query-key cosines of ``indices`` in eval mode, from the
    keys of every token (not the head's shortcut through mean tokens)."""
    head = model.fusion_head
    dataset = toy_dataset()
    with torch.no_grad():
        query = head.current_query()
        keys = head.attn.k_proj
        mean_keys = torch.stack([
            keys(model.encoders.audio(dataset.audio[indices])).mean(1),
            keys(model.encoders.visual(dataset.visual[indices])).mean(1)
        ], dim=1).double()
        cosines = torch.nn.functional.cosine_similarity(
            mean_keys, query.double()[None, None], dim=-1)
    return dict(mean_keys=mean_keys.mean(0), cosines=cosines.mean(0))


def test_eval_pass_statistics_are_an_eval_forward_over_a_fixed_subset(
        tmp_path):
    runner = build_runner(tmp_path, max_epochs=2, dropout=0.3,
                          enable_rotation=False, statistics='eval_pass',
                          eval_pass_samples=10, eval_pass_seed=3,
                          extra_hooks=[CaptureStatistics()])
    runner.train()
    indices = subset_indices(10, seed=3)
    expected = eval_statistics(runner.model, indices)
    summary = torch.load(tmp_path / 'rank0_epoch2.pt')['summary']
    assert summary['count'] == 10
    for key, value in expected.items():
        assert torch.allclose(summary[key], value, atol=1e-6), key
    others = [i for i in range(SAMPLES) if i not in indices]
    assert not torch.allclose(
        summary['cosines'], eval_statistics(runner.model, others)['cosines'],
        atol=1e-3)
    assert logged(runner, 'air')[1] == pytest.approx(
        float(expected['cosines'][0] - expected['cosines'][1]), abs=1e-6)
    log_file = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert log_file.count('(10 samples, eval pass,') == 2


def test_eval_pass_reads_its_own_dataset_config(tmp_path):
    DATASETS.register_module(name='EvalPassToyAVDataset',
                             module=toy_dataset, force=True)
    runner = build_runner(
        tmp_path, max_epochs=1, augment=True, enable_rotation=False,
        statistics='eval_pass',
        eval_pass_dataset=dict(type='EvalPassToyAVDataset', augment=False),
        extra_hooks=[CaptureStatistics()])
    runner.train()
    summary = torch.load(tmp_path / 'rank0_epoch1.pt')['summary']
    expected = eval_statistics(runner.model, list(range(SAMPLES)))
    assert summary['count'] == SAMPLES
    for key, value in expected.items():
        assert torch.allclose(summary[key], value, atol=1e-6), key


def test_eval_pass_leaves_training_unchanged(tmp_path):
    """Dropout and a pipeline drawing from the global generators: the eval
    pass changes what is measured, never what is trained."""
    runs = {}
    for statistics in ('online', 'eval_pass'):
        runner = build_runner(tmp_path / statistics, max_epochs=3,
                              dropout=0.3, augment=True,
                              enable_rotation=False, statistics=statistics)
        runner.train()
        runs[statistics] = runner
    online, eval_pass = (runs[key].model.state_dict()
                         for key in ('online', 'eval_pass'))
    for key in online:
        assert torch.equal(online[key], eval_pass[key]), key
    assert logged(runs['online'], 'air') != logged(runs['eval_pass'], 'air')


def test_eval_pass_rotation_balances_the_measured_air(tmp_path):
    runner = build_runner(tmp_path, max_epochs=1, dropout=0.3,
                          statistics='eval_pass')
    runner.train()
    head = runner.model.fusion_head
    assert head.num_rotations.item() == 1
    before = dataset_air(runner.model, torch.eye(CHANNELS))
    assert logged(runner, 'air') == [pytest.approx(before, abs=1e-6)]
    after = dataset_air(runner.model, head.rotation)
    assert abs(before) > 0.05
    assert abs(after) < 0.2 * abs(before)
    assert runner.model.training


def test_eval_pass_only_at_rotation_epochs_decides_the_rotation(tmp_path):
    """eval_pass_epochs='rotation' (the release's behaviour): no pass
    before begin_epoch; at a rotation epoch the pass's statistics decide and
    build the anchor, while the logged AIR stays the online estimate."""
    common = dict(max_epochs=2, dropout=0.3, begin_epoch=2)
    runner = build_runner(tmp_path / 'pass', statistics='eval_pass',
                          eval_pass_epochs='rotation', eval_pass_samples=10,
                          eval_pass_seed=3, **common)
    runner.train()
    online = build_runner(tmp_path / 'online', enable_rotation=False,
                          **common)
    online.train()
    assert logged(runner, 'air') == logged(online, 'air')
    passes = runner.message_hub.get_scalar('rollingq/eval_pass_air')
    assert len(passes.data[0]) == 1
    log_file = next(Path(runner.log_dir).glob('*.log')).read_text()
    assert log_file.count('rotation decided on the eval pass') == 1
    head = runner.model.fusion_head
    assert head.num_rotations.item() == 1
    rotated = head.rotation.clone()
    head.rotation.copy_(torch.eye(CHANNELS))
    indices = subset_indices(10, seed=3)
    before = eval_statistics(runner.model, indices)['cosines']
    assert passes.data[0][0] == pytest.approx(float(before[0] - before[1]),
                                              abs=1e-6)
    assert passes.data[0][0] != pytest.approx(logged(runner, 'air')[1],
                                              abs=1e-4)
    head.rotation.copy_(rotated)
    after = eval_statistics(runner.model, indices)['cosines']
    assert abs(float(before[0] - before[1])) > 0.05
    assert abs(float(after[0] - after[1])) < 0.5 * abs(
        float(before[0] - before[1]))


def test_bad_eval_pass_arguments_name_the_key(tmp_path):
    for kwargs, key in (
            (dict(statistics='batch'), 'statistics'),
            (dict(statistics='eval_pass', eval_pass_samples=0),
             'eval_pass_samples'),
            (dict(eval_pass_samples=4), 'eval_pass_samples'),
            (dict(statistics='eval_pass', eval_pass_dataset='train'),
             'eval_pass_dataset'),
            (dict(statistics='eval_pass', eval_pass_epochs='last'),
             'eval_pass_epochs'),
            (dict(eval_pass_epochs='rotation'), 'eval_pass_epochs')):
        with pytest.raises(ValueError, match=key):
            AIRHook(**kwargs)
    runner = build_runner(tmp_path, max_epochs=1, statistics='eval_pass',
                          eval_pass_samples=SAMPLES + 1)
    with pytest.raises(ValueError, match='eval_pass_samples'):
        runner.train()


def test_half_rotation_fraction_turns_the_query_half_the_default_angle(
        tmp_path):
    full = build_runner(tmp_path / 'full', max_epochs=1)
    full.train()
    half = build_runner(tmp_path / 'half', max_epochs=1,
                        rotation_fraction=0.5)
    half.train()
    assert logged(full, 'air') == logged(half, 'air')
    full_angle, = logged(full, 'rotation_angle')
    half_angle, = logged(half, 'rotation_angle')
    assert full_angle > 1.0
    assert half_angle == pytest.approx(full_angle / 2, abs=1e-9)
    # The half-rotated query lies halfway to the full one's target.
    half_query = half.model.fusion_head.current_query().detach().double()
    full_query = full.model.fusion_head.current_query().detach().double()
    between = math.degrees(math.acos(min(1.0, float(
        half_query @ full_query / (half_query.norm() * full_query.norm())))))
    assert between == pytest.approx(full_angle / 2, abs=1e-3)
    log_file = next(Path(half.log_dir).glob('*.log')).read_text()
    assert (f'rotated the fusion query by {half_angle:.3f} deg (plane, '
            'rotation_fraction 0.5) at AIR') in log_file


def test_projection_target_balances_the_query_by_the_smallest_turn(
        tmp_path):
    """The rotated query sees the epoch's mean key directions alike, and
    turns less than the rotation to the bisector anchor (ρ = 0), which is
    balanced too: the projection is the nearest balanced query."""
    runners = {}
    for target in ('anchor', 'projection'):
        runners[target] = build_runner(
            tmp_path / target, max_epochs=1, rho=0.0,
            rotation_target=target,
            extra_hooks=[dict(type=CaptureStatistics)])
        runners[target].train()
    anchor_angle, = logged(runners['anchor'], 'rotation_angle')
    projection_angle, = logged(runners['projection'], 'rotation_angle')
    # Fails if the projection option does not rotate (angle ~0) or turns
    # to the anchor after all (equal angles) or past it: the bisector is
    # balanced too, so the nearest balanced query must be reached by a
    # smaller turn.
    assert projection_angle > 1.0, 'the projection target did not rotate'
    assert projection_angle < anchor_angle, (
        f'projection turned {projection_angle:.3f} deg, the bisector anchor '
        f'{anchor_angle:.3f} deg: not the nearest balanced query')
    saved = torch.load(tmp_path / 'projection' / 'rank0_epoch1.pt')
    means = saved['summary']['mean_keys']
    units = means / means.norm(dim=1, keepdim=True)
    head = runners['projection'].model.fusion_head
    query = head.current_query().detach().double()
    seen = units @ (query / query.norm())
    assert float(seen[0]) == pytest.approx(float(seen[1]), abs=1e-6)
    log_file = next(Path(runners['projection'].log_dir).glob(
        '*.log')).read_text()
    assert (f'rotated the fusion query by {projection_angle:.3f} deg '
            '(plane, rotation_target projection) at AIR') in log_file


def test_bad_rotation_fraction_and_trigger_name_the_key():
    for fraction in (0, -0.5, 1.5, True, '0.5', float('nan')):
        with pytest.raises(ValueError, match='rotation_fraction'):
            AIRHook(rotation_fraction=fraction)
    with pytest.raises(ValueError, match="rotation_fraction=0.5 with "
                       "rotation_method='svd'"):
        AIRHook(rotation_method='svd', rotation_fraction=0.5)
    assert AIRHook(rotation_method='svd').rotation_fraction == 1.0
    for trigger in ('cos', 'AIR', None):
        with pytest.raises(ValueError, match='trigger'):
            AIRHook(trigger=trigger)
    for target in ('bisector', None):
        with pytest.raises(ValueError, match='rotation_target'):
            AIRHook(rotation_target=target)


def crafted_summary(cosines, normalised_shares) -> dict:
    """Epoch statistics with the given c_m and token-normalised shares."""
    return dict(
        cosines=torch.tensor(cosines, dtype=torch.float64),
        attn_share_norm=torch.tensor(normalised_shares, dtype=torch.float64))


def test_air_norm_trigger_decides_on_the_per_token_air():
    hooks = {}
    for trigger in ('air', 'air_norm'):
        hooks[trigger] = AIRHook(air_threshold=0.3, trigger=trigger)
        hooks[trigger]._head = toy_model().fusion_head
    # Raw AIR 0.5 >= 0.3, per-token AIR 0.1 < 0.3.
    raw_only = crafted_summary([0.6, 0.1], [0.55, 0.45])
    # Raw AIR 0.1 < 0.3, per-token AIR -0.6: |.| >= 0.3.
    per_token_only = crafted_summary([0.3, 0.2], [0.2, 0.8])
    assert hooks['air'].imbalance(raw_only) == pytest.approx(0.5)
    assert hooks['air_norm'].imbalance(raw_only) == pytest.approx(0.1)
    assert hooks['air_norm'].imbalance(per_token_only) == pytest.approx(
        -0.6)
    assert hooks['air']._rotation_due(1, raw_only)
    assert not hooks['air_norm']._rotation_due(1, raw_only)
    assert not hooks['air']._rotation_due(1, per_token_only)
    assert hooks['air_norm']._rotation_due(1, per_token_only)


def test_air_norm_is_logged_and_triggers_a_real_run(tmp_path):
    monitor = build_runner(tmp_path / 'monitor', max_epochs=1,
                           enable_rotation=False)
    monitor.train()
    air_norm, = logged(monitor, 'air_norm')
    audio, = logged(monitor, 'norm_attn_audio')
    visual, = logged(monitor, 'norm_attn_visual')
    assert air_norm == pytest.approx(audio - visual, abs=1e-12)
    air, = logged(monitor, 'air')
    assert abs(abs(air) - abs(air_norm)) > 1e-3
    between = (abs(air) + abs(air_norm)) / 2
    rotations = {}
    for trigger in ('air', 'air_norm'):
        runner = build_runner(tmp_path / trigger, max_epochs=1,
                              air_threshold=between, trigger=trigger)
        runner.train()
        assert logged(runner, 'air_norm') == [air_norm]
        rotations[trigger] = logged(runner, 'num_rotations')[0]
    larger = 'air' if abs(air) > abs(air_norm) else 'air_norm'
    smaller = 'air_norm' if larger == 'air' else 'air'
    assert (rotations[larger], rotations[smaller]) == (1, 0)


def launch_two_ranks(work_dir: Path, *args: str, timeout: int = 300) -> None:
    """Run this file as ranks 0 and 1 of a local gloo group."""
    gloo_ranks.launch_two_ranks(__file__, work_dir, *args, timeout=timeout)


def test_two_gloo_ranks_share_statistics_and_rotation(tmp_path):
    launch_two_ranks(tmp_path / 'ddp')
    reference = build_runner(tmp_path / 'single', max_epochs=1,
                             extra_hooks=[CaptureStatistics()])
    reference.train()
    single = torch.load(tmp_path / 'single' / 'rank0_epoch1.pt')
    ranks = [torch.load(tmp_path / 'ddp' / f'rank{rank}_epoch1.pt')
             for rank in range(2)]
    assert ranks[0]['world_size'] == ranks[1]['world_size'] == 2
    assert torch.equal(ranks[0]['rotation'], ranks[1]['rotation'])
    assert ranks[0]['num_rotations'] == ranks[1]['num_rotations'] == 1
    assert not torch.equal(ranks[0]['rotation'], torch.eye(CHANNELS))
    for result in ranks:
        assert result['summary']['count'] == single['summary']['count'] == 16
        for key in ('mean_keys', 'cosines', 'attn_share', 'attn_share_norm'):
            assert torch.allclose(result['summary'][key],
                                  single['summary'][key], atol=1e-5), key
    assert torch.allclose(ranks[0]['rotation'], single['rotation'],
                          atol=1e-4)
    # A rank that saw no sample contributes zeros to the reduction.
    expected = AIRStatistics(2, CHANNELS)
    expected.update(*rank0_only_batch())
    for rank in range(2):
        summary = torch.load(tmp_path / 'ddp' / f'rank{rank}_partial.pt')
        assert summary['count'] == 3
        for key, value in expected.summary().items():
            assert torch.equal(torch.as_tensor(summary[key]),
                               torch.as_tensor(value)), key


def test_two_gloo_ranks_split_the_eval_pass_and_agree(tmp_path):
    launch_two_ranks(tmp_path / 'ddp', 'eval_pass')
    reference = build_runner(tmp_path / 'single', max_epochs=1,
                             statistics='eval_pass', eval_pass_samples=11,
                             extra_hooks=[CaptureStatistics()])
    reference.train()
    single = torch.load(tmp_path / 'single' / 'rank0_epoch1.pt')
    ranks = [torch.load(tmp_path / 'ddp' / f'rank{rank}_epoch1.pt')
             for rank in range(2)]
    assert torch.equal(ranks[0]['rotation'], ranks[1]['rotation'])
    assert torch.allclose(ranks[0]['rotation'], single['rotation'],
                          atol=1e-4)
    for result in ranks:
        assert result['world_size'] == 2
        assert result['summary']['count'] == single['summary']['count'] == 11
        for key in ('mean_keys', 'cosines', 'attn_share', 'attn_share_norm'):
            assert torch.allclose(result['summary'][key],
                                  single['summary'][key], atol=1e-5), key


def test_rank0_decides_the_rotation_for_every_rank(tmp_path):
    """Ranks whose own rule would disagree (here rank 1's threshold is never
    reached) all follow rank 0's decision instead of waiting at a broadcast
    that only some of them join."""
    launch_two_ranks(tmp_path / 'ddp', 'disagree', timeout=120)
    ranks = [torch.load(tmp_path / 'ddp' / f'rank{rank}_epoch1.pt')
             for rank in range(2)]
    assert ranks[0]['num_rotations'] == ranks[1]['num_rotations'] == 1
    assert torch.equal(ranks[0]['rotation'], ranks[1]['rotation'])
    assert not torch.equal(ranks[0]['rotation'], torch.eye(CHANNELS))


def rank0_only_batch():
    """A batch of statistics that only rank 0 adds in the worker."""
    generator = torch.Generator().manual_seed(7)
    return (torch.randn(3, 2, CHANNELS, generator=generator),
            torch.rand(3, 2, generator=generator),
            torch.rand(3, 2, generator=generator),
            torch.rand(3, 2, generator=generator))


def distributed_worker(work_dir: str, mode: str = 'online') -> None:
    """One rank of the 2-process tests (see the module docstring)."""
    if mode == 'eval_pass':
        build_runner(work_dir, max_epochs=1, batch_size=2,
                     extra_hooks=[CaptureStatistics()], launcher='pytorch',
                     statistics='eval_pass', eval_pass_samples=11).train()
        exit_distributed_cleanly()
    if mode == 'disagree':
        build_runner(work_dir, max_epochs=1, batch_size=2,
                     extra_hooks=[CaptureStatistics()], launcher='pytorch',
                     air_threshold=0.0 if os.environ['RANK'] == '0' else 100.0
                     ).train()
        exit_distributed_cleanly()
    build_runner(work_dir, max_epochs=1, batch_size=2,
                 extra_hooks=[CaptureStatistics()],
                 launcher='pytorch').train()
    partial = AIRStatistics(2, CHANNELS)
    if get_rank() == 0:
        partial.update(*rank0_only_batch())
    partial.all_reduce()
    torch.save(partial.summary(),
               Path(work_dir) / f'rank{get_rank()}_partial.pt')
    exit_distributed_cleanly()


if __name__ == '__main__':
    distributed_worker(*sys.argv[1:])
