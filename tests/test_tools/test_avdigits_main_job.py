"""The AV-Digits main job, shrunk: tools/train.py then tools/test.py.

``configs/rollingq_avdigits.py`` runs through the real command-line tools in
subprocesses, on the shipped data/avdigits files (a subset of every split
selected with the dataset's ``indices``) for 2 epochs, with the rotation rule
relaxed so that the query rotates at the end of both epochs.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
CONFIG = 'configs/rollingq_avdigits.py'
#: Every 25th training clip (80, all digits and speakers), every 10th
#: validation and test clip (50 each).
SUBSET = {'train': list(range(0, 2000, 25)), 'val': list(range(0, 500, 10)),
          'test': list(range(0, 500, 10))}


def subset_options(*splits: str) -> list:
    """``--cfg-options`` items that select :data:`SUBSET` of ``splits``."""
    return [f'{split}_dataloader.dataset.indices=[' +
            ','.join(map(str, SUBSET[split])) + ']' for split in splits]


def run_tool(args: list, timeout: int = 300) -> str:
    """Run a tools/ script from the repository root; return its output."""
    run = subprocess.run([sys.executable] + args, cwd=REPO,
                         capture_output=True, text=True, timeout=timeout,
                         env=dict(os.environ, OMP_NUM_THREADS='1'))
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    return output


@pytest.mark.slow
def test_main_job_trains_rotates_validates_and_tests(tmp_path):
    work_dir = tmp_path / 'work'
    log = run_tool([
        'tools/train.py', CONFIG, '--work-dir', str(work_dir), '--seed', '0',
        '--cfg-options', 'train_cfg.max_epochs=2',
        'train_dataloader.batch_size=16', 'custom_hooks.0.begin_epoch=1',
        'custom_hooks.0.interval=1', 'custom_hooks.0.air_threshold=0.0',
        *subset_options('train', 'val')
    ])

    # Progress with ETA, the AIR summary of both epochs, two rotations.
    assert re.search(r'Epoch\(train\)\s+\[1\]\[\d+/5\].*eta: ', log)
    for epoch in (1, 2):
        assert re.search(rf'AIRHook epoch {epoch} \(80 samples, training '
                         r'forwards\): air [-+]?\d\.\d+, air_norm '
                         r'[-+]?\d\.\d+, cos_audio', log)
    assert len(re.findall('rotated the fusion query', log)) == 2
    assert 'num_rotations 2' in log
    # Fused and per-modality validation accuracy, attention shares.
    for epoch in (1, 2):
        line = re.search(rf'Epoch\(val\) \[{epoch}\]\S*\s+(.*)', log).group(1)
        for key in ('acc/fused_top1', 'acc/audio_top1', 'acc/visual_top1',
                    'attn/audio_mean', 'attn/visual_mean', 'attn/air'):
            assert re.search(rf'{key}: \d\.\d+', line), key

    best = list(work_dir.glob('best_acc_fused_top1_epoch_*.pth'))
    assert len(best) == 1
    state = torch.load(best[0], map_location='cpu',
                       weights_only=False)['state_dict']
    rotation = state['fusion_head.rotation'].double()
    identity = torch.eye(rotation.shape[0], dtype=torch.float64)
    assert int(state['fusion_head.num_rotations']) >= 1
    assert not torch.allclose(rotation, identity)
    assert torch.allclose(rotation.T @ rotation, identity, atol=1e-4)

    curves = cv2.imread(str(work_dir / 'training_curves.png'))
    assert curves is not None and curves.shape[0] > 200 \
        and curves.shape[1] > 600

    test_log = run_tool([
        'tools/test.py', CONFIG, str(best[0]), '--work-dir',
        str(tmp_path / 'test'), '--cfg-options', *subset_options('test')
    ])
    line = re.search(r'Epoch\(test\) \[1/1\]\s+(.*)', test_log).group(1)
    metrics = dict(re.findall(r'(\S+): ([-\d.]+)', line))
    for key in ('acc/fused_top1', 'acc/audio_top1', 'acc/visual_top1'):
        assert 0.0 <= float(metrics[key]) <= 1.0
    shares = float(metrics['attn/audio_mean']) + float(
        metrics['attn/visual_mean'])
    assert 0.0 < shares < 1.0  # the fusion token keeps the rest
    assert -2.0 <= float(metrics['attn/air']) <= 2.0


@pytest.mark.slow
def test_main_job_with_the_eval_pass_statistics(tmp_path):
    """AIRHook(statistics='eval_pass') on the real recognizer and pipeline:
    the AIR of a fixed 40-clip subset in eval mode drives the rotation."""
    log = run_tool([
        'tools/train.py', CONFIG, '--work-dir', str(tmp_path / 'work'),
        '--seed', '0', '--cfg-options', 'train_cfg.max_epochs=1',
        'train_dataloader.batch_size=16', 'custom_hooks.0.begin_epoch=1',
        'custom_hooks.0.air_threshold=0.0',
        'custom_hooks.0.statistics=eval_pass',
        'custom_hooks.0.eval_pass_samples=40', *subset_options('train', 'val')
    ])
    assert re.search(r'AIRHook epoch 1 \(40 samples, eval pass, \d+\.\d s on '
                     r'rank 0\): air [-+]?\d\.\d+, air_norm [-+]?\d\.\d+, '
                     r'cos_audio', log)
    assert 'rotated the fusion query' in log
    assert 'num_rotations 1' in log
