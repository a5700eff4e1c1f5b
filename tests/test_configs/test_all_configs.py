"""Every config in configs/ trains one step, validates and tests on real files.

Each config is loaded as ``tools/train.py`` loads it, shrunk (ViT towers to
one 32-wide layer, 32x32 frames, short audio, batch 2, no pretrained
downloads) and run by a real MMEngine Runner through its real pipeline on
clips from ../shared/data/av_clips and a frame folder made here.
"""
import math
import os
import re
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.config import Config, ConfigDict
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from rollingq_mm.utils.launch import drop_unreached_schedulers

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / 'configs'
CLIPS = REPO / '..' / 'shared' / 'data' / 'av_clips' / 'grid_samples'
CONFIGS = sorted(
    str(path.relative_to(CONFIG_DIR)) for path in CONFIG_DIR.rglob('*.py')
    if '_base_' not in path.parts)
TINY_WIDTH = 32
TINY_ARCH = dict(embed_dims=TINY_WIDTH, num_layers=1, num_heads=2,
                 feedforward_channels=2 * TINY_WIDTH)


@pytest.fixture(scope='module')
def ann_file(tmp_path_factory) -> Path:
    """Two clips: a video with its sound track; frames + another video's
    sound."""
    root = tmp_path_factory.mktemp('av')
    frames = root / 'frames' / 'clip1'
    frames.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(1, 5):
        image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        assert cv2.imwrite(str(frames / f'img_{index:05d}.jpg'), image)
    path = root / 'ann.txt'
    path.write_text(f'{CLIPS.resolve() / "brbk7n.mpg"} - 0\n'
                    f'{frames} {CLIPS.resolve() / "lbax4n.mpg"} 1\n')
    return path


def shrink_model(model: ConfigDict) -> None:
    """Tiny ViT towers and widths, no pretrained weights (in place)."""
    for spec in model.modalities.values():
        backbone, tokenizer = spec.backbone, spec.tokenizer
        if backbone.get('pretrained') is not None:
            backbone.pretrained = None
        if (backbone.get('init_cfg') or {}).get('type') == 'Pretrained':
            backbone.init_cfg = None
        if isinstance(backbone.get('arch'), dict):
            backbone.arch = dict(TINY_ARCH)
            tokenizer.in_channels = TINY_WIDTH
        if tokenizer.get('out_channels') is not None:
            tokenizer.out_channels = TINY_WIDTH
    if model.fusion_head.get('fusion_dim') is not None:
        model.fusion_head.fusion_dim = TINY_WIDTH


def shrink_pipeline(pipeline: list) -> None:
    """Small frames and short audio (in place)."""
    for step in pipeline:
        if step.type == 'PerFrame':
            shrink_pipeline(step.transforms)
        elif step.type == 'Resize':
            step.scale = (32, 32)
        elif step.type == 'KaldiFbank':
            step.target_frames = 64
        elif step.type == 'FixAudioLength':
            step.seconds = 1.0


def tiny_config(name: str, ann_file: Path, work_dir: Path) -> Config:
    """The config ``name`` with the test overrides."""
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    shrink_model(cfg.model)
    for split in ('train', 'val', 'test'):
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = 2
        loader.num_workers = 0
        loader.persistent_workers = False
        loader.dataset.ann_file = str(ann_file)
        loader.dataset.data_prefix = dict(video='', audio='')
        shrink_pipeline(loader.dataset.pipeline)
    cfg.train_cfg.max_epochs = 1
    # As tools/train.py: the cosine phase begins after this epoch.
    assert drop_unreached_schedulers(cfg)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    return cfg


def test_every_config_is_covered():
    names = set(CONFIGS)
    for expected in ('rollingq_ks.py', 'vanilla_ks.py', 'concat_ks.py',
                     'rollingq_cremad.py', 'vanilla_cremad.py',
                     'concat_cremad.py'):
        assert expected in names
    assert len([n for n in names if n.startswith('rollingq/')]) >= 3


@pytest.mark.parametrize('name', CONFIGS)
def test_config_trains_validates_and_tests(name, ann_file, tmp_path):
    init_default_scope('mmaction')
    cfg = tiny_config(name, ann_file, tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()

    hub = runner.message_hub
    modalities = runner.model.modality_names
    losses = [key for key in hub.log_scalars
              if key.startswith('train/loss')]
    assert {'train/loss_cls'} | {f'train/loss_probe_{m}'
                                 for m in modalities} <= set(losses)
    assert all(math.isfinite(hub.get_scalar(k).current()) for k in losses)
    for key in ['fused', *modalities]:
        assert f'val/acc/{key}_top1' in hub.log_scalars
    assert list(tmp_path.glob('best_acc_fused_top1_epoch_1.pth'))

    head = runner.model.fusion_head
    hooks = [h for h in runner.hooks if type(h).__name__ == 'AIRHook']
    if type(head).__name__ == 'RollingQFusionHead':
        assert len(hooks) == 1
        hook = hooks[0]
        air = hub.get_scalar('rollingq/air').current()
        rotates = (hook.enable_rotation and hook.max_rotations > 0
                   and hook.begin_epoch == 1
                   and abs(air) >= hook.air_threshold)
        assert int(head.num_rotations) == int(rotates)
    else:
        assert not hooks

    metrics = runner.test()
    assert {f'acc/{key}_top1' for key in ['fused', *modalities]} <= set(
        metrics)
    assert 0.0 <= metrics['acc/fused_top1'] <= 1.0


def test_dist_train_rollingq_ks_on_two_cpu_processes(ann_file, tmp_path):
    """tools/dist_train.sh configs/rollingq_ks.py 2 (shrunk): gloo, rotation,
    validation, TensorBoard scalars, the curves figure."""
    cfg = tiny_config('rollingq_ks.py', ann_file, tmp_path / 'work')
    cfg.train_cfg.max_epochs = 2
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend'),
                                   dict(type='TensorboardVisBackend')]
    config_file = tmp_path / 'tiny_rollingq_ks.py'
    cfg.dump(str(config_file))
    run = subprocess.run(
        ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(config_file), '2',
         '--work-dir', str(tmp_path / 'work')],
        env=dict(os.environ, PORT='29641', OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert 'using the gloo backend' in log
    assert 'rotated the fusion query' in log
    assert re.search(r'Epoch\(val\) \[2\]\S*\s+acc\/fused_top1', log)
    assert 'num_rotations 2' in log
    assert list((tmp_path / 'work').glob('*/vis_data/events.out.tfevents.*'))
    assert (tmp_path / 'work' / 'training_curves.png').stat().st_size > 0


@pytest.mark.parametrize('name', CONFIGS)
def test_config_trains_under_ddp_on_two_processes(name, ann_file, tmp_path):
    """tools/dist_train.sh CONFIG 2 (shrunk, one clip per process): two
    iterations of DistributedDataParallel. A parameter that gets no gradient
    (e.g. the unused tower of a unimodal baseline) fails the second with
    "Expected to have finished reduction in the prior iteration"."""
    cfg = tiny_config(name, ann_file, tmp_path / 'work')
    cfg.train_dataloader.batch_size = 1
    cfg.train_cfg.max_epochs = 2
    cfg.default_hooks.pop('curves', None)
    config_file = tmp_path / 'config.py'
    cfg.dump(str(config_file))
    port = 29700 + CONFIGS.index(name)
    run = subprocess.run(
        ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(config_file), '2',
         '--work-dir', str(tmp_path / 'work'), '--no-validate'],
        env=dict(os.environ, PORT=str(port), OMP_NUM_THREADS='1'),
        capture_output=True, text=True, timeout=600)
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert re.search(r'Epoch\(train\)\s+\[2\]\[1/1\]', log), log[-3000:]
    assert 'The total batch is 2 (2 process(es) x' in log
    assert (tmp_path / 'work' / 'epoch_2.pth').exists()
