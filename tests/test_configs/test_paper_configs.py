"""The paper configs state the paper's recipe (docs/paper_parity.md); each
component's behaviour is tested beside it, this pins what the configs ask
for."""
from pathlib import Path

import pytest
from mmaction.registry import HOOKS
from mmengine.config import Config

import rollingq_mm  # noqa: F401  (registers AIRHook)

REPO = Path(__file__).resolve().parents[2]
KS = ['rollingq_ks.py', 'vanilla_ks.py', 'concat_ks.py']
CREMAD = ['rollingq_cremad.py', 'vanilla_cremad.py', 'concat_cremad.py']


def load(name: str) -> Config:
    return Config.fromfile(str(REPO / 'configs' / name))


def step(pipeline: list, kind: str) -> dict:
    found = [s for s in pipeline if s['type'] == kind]
    assert len(found) == 1, (kind, pipeline)
    return found[0]


@pytest.mark.parametrize('name', KS + CREMAD)
def test_model_inputs_init_and_probes(name):
    cfg = load(name)
    head = cfg.model.fusion_head
    assert head.probe_pool == 'cls'
    assert 'init_cfg' not in head  # the heads' default: Xavier-normal
    audio = cfg.model.modalities.audio.backbone
    assert audio.patch_cfg == dict(padding=0)
    assert audio.img_size == ((128, 1024) if name in KS else (188, 257))
    assert cfg.model.modalities.visual.backbone.num_frames == 3
    assert cfg.train_dataloader.batch_size == 16


@pytest.mark.parametrize('name', KS + CREMAD)
def test_data_recipe(name):
    cfg = load(name)
    train = cfg.train_dataloader.dataset.pipeline
    test = cfg.test_dataloader.dataset.pipeline
    per_frame = step(train, 'PerFrame')
    assert [t['type'] for t in per_frame.transforms] == [
        'RandomResizedCrop', 'Resize', 'Flip']
    assert not [s for s in train if s['type'] in ('RandomResizedCrop',
                                                  'Flip')]
    sampler = step(train, 'SampleSegmentFrames')
    assert sampler.num_segments == 3 and sampler.fps == 1.0
    assert sampler.get('train_sampling', 'segments') == (
        'random_with_replacement' if name in CREMAD else 'segments')
    assert step(test, 'SampleSegmentFrames').test_mode
    if name in KS:
        for pipeline in (train, test):
            fbank = step(pipeline, 'KaldiFbank')
            assert fbank.layout == 'freq_time'
            assert (fbank.num_mel_bins, fbank.target_frames) == (128, 1024)
    else:
        for pipeline in (train, test):
            stft = step(pipeline, 'LogSTFT')
            assert (stft.n_fft, stft.hop_length) == (512, 353)


@pytest.mark.parametrize('name, rotations', [('rollingq_ks.py', 3),
                                             ('rollingq_cremad.py', 1)])
def test_rotation_rule_and_statistics(name, rotations):
    """The hook the config builds (its arguments over AIRHook's defaults)
    follows the paper's rule with the release's rotation and statistics."""
    specs = [h for h in load(name).custom_hooks if h['type'] == 'AIRHook']
    assert len(specs) == 1
    hook = HOOKS.build(specs[0])
    settings = {key: getattr(hook, key) for key in (
        'air_threshold', 'rho', 'max_rotations', 'begin_epoch', 'interval',
        'enable_rotation', 'rotation_method', 'statistics',
        'eval_pass_epochs')}
    assert settings == dict(
        air_threshold=0.0, rho=0.0, max_rotations=rotations, begin_epoch=1,
        interval=1, enable_rotation=True, rotation_method='svd',
        statistics='eval_pass', eval_pass_epochs='rotation')


@pytest.mark.parametrize('name', KS + CREMAD)
def test_schedule(name):
    cfg = load(name)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4)
    assert cfg.train_cfg.max_epochs == 30
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 2.5)
    # No end: the Runner ends the cosine at train_cfg.max_epochs (30).
    assert (cosine.type, cosine.begin) == ('CosineAnnealingLR', 2.5)
    assert 'end' not in cosine and 'T_max' not in cosine
    assert cfg.default_hooks.checkpoint.save_best == 'acc/fused_top1'
    assert cfg.val_dataloader.dataset.ann_file.endswith('val.txt')
