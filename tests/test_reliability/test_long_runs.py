"""Long runs: flat memory over 20 epochs, more loader workers than cores,
and a worker failing (or dying) on a file names it in the main process."""
import json
import os
import re

import numpy as np
import pytest
import reliability_hooks  # noqa: F401  (registers SegfaultOnAudioFile)
from mmengine.runner import Runner
from tiny_runs import (AVDIGITS, tiny_avdigits_config, train, write_config)

EPOCHS = 20
TRAIN_SAMPLES = 16
#: Largest growth of the per-epoch peak RSS from the first to the second
#: half of the run (after 4 warm-up epochs): a leak of 1 MiB per epoch
#: would exceed it.
RSS_GROWTH_BOUND_MIB = 8


@pytest.mark.slow
def test_twenty_epochs_with_four_persistent_workers_keep_memory_flat(
        tmp_path):
    cores = len(os.sched_getaffinity(0))
    workers = max(4, cores)
    cfg = tiny_avdigits_config(tmp_path, train_samples=TRAIN_SAMPLES,
                               val_samples=8, max_epochs=EPOCHS,
                               num_workers=workers, persistent_workers=True)
    cfg.custom_imports.imports = ['rollingq_mm', 'reliability_hooks']
    cfg.custom_hooks.append(dict(type='EpochMemoryHook'))
    cfg.train_cfg.val_interval = 5
    cfg.default_hooks.logger.interval = 10
    cfg.default_hooks.checkpoint.interval = 5
    run = train(write_config(cfg, tmp_path / 'long.py'), timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f'Epoch(val) [{EPOCHS}]' in run.stdout + run.stderr

    rows = json.loads((tmp_path / 'memory.json').read_text())
    assert [row['epoch'] for row in rows] == list(range(1, EPOCHS + 1))
    # Statistics are reset each epoch: one epoch's samples, fixed size.
    assert {row['statistics_count'] for row in rows} == {TRAIN_SAMPLES}
    assert len({row['statistics_numel'] for row in rows}) == 1
    peaks = np.array([row['peak_rss_kib'] for row in rows]) / 1024
    first, second = peaks[4:12].max(), peaks[12:].max()
    assert second - first < RSS_GROWTH_BOUND_MIB, peaks.round(1).tolist()


def test_a_worker_failing_on_a_corrupt_file_names_it(tmp_path):
    corrupt = tmp_path / 'audio' / 'corrupt_clip.flac'
    corrupt.parent.mkdir()
    corrupt.write_bytes(np.random.default_rng(0).bytes(5000))
    cfg = tiny_avdigits_config(tmp_path, train_samples=8, max_epochs=1,
                               num_workers=2)
    ann = tmp_path / 'train_corrupt.txt'
    lines = open(cfg.train_dataloader.dataset.ann_file).read().splitlines()
    lines[5] = f'{lines[5].split()[0]} {corrupt} 3'
    ann.write_text('\n'.join(lines) + '\n')
    cfg.train_dataloader.dataset.ann_file = str(ann)
    runner = Runner.from_cfg(cfg)
    with pytest.raises(Exception) as info:
        runner.train()
    message = str(info.value)
    assert 'DataLoader worker process' in message
    assert str(corrupt) in message
    assert re.search(r'while loading sample 5 \(\S+images/train/\S+\.png, '
                     + re.escape(str(corrupt)), message), message
    assert str(AVDIGITS) in message


def test_a_worker_dying_in_native_code_names_the_file(tmp_path):
    cfg = tiny_avdigits_config(tmp_path, train_samples=8, max_epochs=1,
                               num_workers=2)
    lines = open(cfg.train_dataloader.dataset.ann_file).read().splitlines()
    audio = lines[5].split()[1]
    cfg.train_dataloader.dataset.pipeline.insert(
        0, dict(type='SegfaultOnAudioFile', name=os.path.basename(audio)))
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError) as info:
        runner.train()
    assert re.search(r'DataLoader worker \(pid \d+\) died while loading '
                     r'sample 5 \(\S+\.png, '
                     + re.escape(str(AVDIGITS / audio)) + r'\)',
                     str(info.value)), str(info.value)
