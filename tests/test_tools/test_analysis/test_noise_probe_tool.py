"""tools/analysis/noise_probe.py on a model trained here on AV-Digits samples.

Checks the files the tool writes against an independent numpy / scipy
computation on its per-sample records, the clean pass against
tools/test.py, that the noise reaches only the corrupted modality, and
clear errors for bad arguments.
"""
import math
import pickle
import re
import runpy
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from probe_summary import read_csv

LEVELS = (0.0, 0.5, 1.0)  # the probe fixture's (conftest.py)
MODALITIES = ('audio', 'visual')
RANDOM_MAX = 1.5
TOOL = Path(__file__).resolve().parents[3] / 'tools' / 'analysis' / \
    'noise_probe.py'


def by_setting(records: list) -> dict:
    groups = defaultdict(list)
    for row in records:
        groups[row['setting']].append(row)
    return groups


def test_every_pass_covers_the_test_split_once(probe, trained_rollingq):
    groups = by_setting(probe['records'])
    expected = {'clean', 'random'} | {
        f'{m}@{level:g}' for m in MODALITIES for level in LEVELS if level}
    assert set(groups) == expected
    for rows in groups.values():
        assert sorted(int(r['sample_idx']) for r in rows) == list(
            range(trained_rollingq['num_test']))
    for name in MODALITIES:
        for row in groups[f'{name}@1']:
            assert float(row[f'level_{name}']) == 1.0
            other = [m for m in MODALITIES if m != name][0]
            assert float(row[f'level_{other}']) == 0.0
    random_levels = np.array([[float(r[f'level_{m}']) for m in MODALITIES]
                              for r in groups['random']])
    assert (random_levels >= 0).all() and (random_levels <= RANDOM_MAX).all()
    assert random_levels.std(axis=0).min() > 0.2
    assert abs(np.corrcoef(random_levels.T)[0, 1]) < 0.4


def test_accuracy_csv_equals_numpy_on_the_records(probe):
    groups = by_setting(probe['records'])
    rows = probe['accuracy']
    assert [(r['corrupted'], float(r['level'])) for r in rows] == [
        (m, level) for m in MODALITIES for level in LEVELS]
    for row in rows:
        level = float(row['level'])
        name = 'clean' if level == 0 else f'{row["corrupted"]}@{level:g}'
        subset = groups[name]
        labels = np.array([int(r['label']) for r in subset])
        assert int(row['num_samples']) == len(subset)
        for key in ('fused', *MODALITIES):
            preds = np.array([int(r[f'pred_{key}']) for r in subset])
            assert float(row[f'top1_{key}']) == pytest.approx(
                np.mean(preds == labels), abs=1e-12)
        for name in MODALITIES:
            attention = np.array([float(r[f'attn_{name}']) for r in subset])
            assert float(row[f'attn_{name}']) == pytest.approx(
                attention.mean(), abs=1e-12)


def test_correlation_csv_equals_scipy_on_the_records(probe):
    random_rows = by_setting(probe['records'])['random']
    rows = {r['modality']: r for r in probe['correlation']}
    assert set(rows) == set(MODALITIES)
    for name in MODALITIES:
        attention = np.array([float(r[f'attn_{name}']) for r in random_rows])
        quality = -np.array([float(r[f'level_{name}']) for r in random_rows])
        r_numpy = np.corrcoef(attention, quality)[0, 1]
        n = len(attention)
        t = r_numpy * math.sqrt((n - 2) / (1 - r_numpy**2))
        p_numpy = 2 * stats.t.sf(abs(t), n - 2)
        assert int(rows[name]['num_samples']) == n
        assert float(rows[name]['pearson_r']) == pytest.approx(
            r_numpy, abs=1e-9)
        assert float(rows[name]['p_value']) == pytest.approx(
            p_numpy, rel=1e-6, abs=1e-12)
    assert 'Pearson r(attention on m, quality of m = -noise level' in \
        probe['log']


def test_noise_reaches_only_the_corrupted_modality(probe):
    groups = by_setting(probe['records'])
    clean = groups['clean']
    for name in MODALITIES:
        other = [m for m in MODALITIES if m != name][0]
        noisy = groups[f'{name}@1']
        # The other modality's probe sees an untouched input.
        assert [r[f'pred_{other}'] for r in noisy] == [
            r[f'pred_{other}'] for r in clean]
        # The fusion's attention moves on (almost) every sample.
        moved = [abs(float(a[f'attn_{name}']) - float(b[f'attn_{name}']))
                 > 1e-6 for a, b in zip(noisy, clean)]
        assert np.mean(moved) > 0.9


def test_level_zero_reproduces_tools_test(probe, trained_rollingq,
                                          run_tool, tmp_path):
    dump = tmp_path / 'clean.pkl'
    run = run_tool('tools/test.py', str(trained_rollingq['config']),
                   str(trained_rollingq['checkpoint']), '--dump', str(dump))
    assert run.returncode == 0, run.stderr[-3000:]
    with open(dump, 'rb') as file:
        samples = pickle.load(file)
    clean = sorted(by_setting(probe['records'])['clean'],
                   key=lambda r: int(r['sample_idx']))
    assert len(samples) == len(clean)
    for sample, record in zip(samples, clean):
        assert int(sample['pred_label']) == int(record['pred_fused'])
        for name in MODALITIES:
            assert float(sample['attn_share'][MODALITIES.index(name)]) == \
                pytest.approx(float(record[f'attn_{name}']), abs=1e-7)
    labels = np.array([int(s['gt_label']) for s in samples])
    test_top1 = np.mean([int(s['pred_label']) for s in samples] == labels)
    level_zero = [r for r in probe['accuracy'] if float(r['level']) == 0]
    assert {float(r['top1_fused']) for r in level_zero} == {test_top1}
    logged = re.search(r'acc/fused_top1: ([0-9.]+)', run.stdout + run.stderr)
    assert float(logged.group(1)) == pytest.approx(test_top1, abs=1e-4)


def test_files_written_and_png_is_valid(probe):
    out_dir = probe['out_dir']
    for name in ('records.csv', 'accuracy.csv', 'correlation.csv'):
        assert (out_dir / name).stat().st_size > 0
    with Image.open(out_dir / 'noise_probe.png') as image:
        image.verify()
    with Image.open(out_dir / 'noise_probe.png') as image:
        assert image.format == 'PNG'
        width, height = image.size
        assert width > 2 * height > 400
        assert len(np.unique(np.asarray(image.convert('L')))) > 20


@pytest.mark.parametrize('args, message', [
    (['--modalities', 'depth'], "unknown modalities ['depth']"),
    (['--levels', '0', '-0.5'], 'must be finite and >= 0, got [-0.5]'),
    (['--random-levels', '-1'], '--random-levels must be >= 0'),
])
def test_bad_arguments_give_clear_errors(trained_rollingq, args, message,
                                         monkeypatch, capsys):
    """The tool's own code (run in this process, as __main__)."""
    monkeypatch.setattr(sys, 'argv', [
        'noise_probe.py', str(trained_rollingq['config']),
        str(trained_rollingq['checkpoint']), *args])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(TOOL), run_name='__main__')
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert message in stderr
    assert 'noise_probe.py: error' in stderr


def test_two_gloo_processes_give_the_single_process_records(
        probe, trained_rollingq, run_tool, tmp_path):
    """torchrun --nproc_per_node 2 ... --launcher pytorch: records of both
    ranks are gathered to rank 0, which alone writes the same files."""
    out_dir = tmp_path / 'dist'
    run = run_tool('-m', 'torch.distributed.run', '--nproc_per_node=2',
                   '--master_port=29657', 'tools/analysis/noise_probe.py',
                   str(trained_rollingq['config']),
                   str(trained_rollingq['checkpoint']), '--levels',
                   *map(str, LEVELS), '--random-levels', str(RANDOM_MAX),
                   '--seed', '3', '--out-dir', str(out_dir), '--launcher',
                   'pytorch')
    assert run.returncode == 0, run.stderr[-3000:]
    assert 'gloo' in run.stdout + run.stderr
    records = read_csv(str(out_dir / 'records.csv'))
    assert len(records) == len(probe['records'])
    for dist, single in zip(records, probe['records']):
        for key, value in single.items():
            if key.startswith('attn_'):
                assert float(dist[key]) == pytest.approx(float(value),
                                                         abs=1e-5)
            else:
                assert dist[key] == value, key
    for dist, single in zip(read_csv(str(out_dir / 'accuracy.csv')),
                            probe['accuracy']):
        assert dist.keys() == single.keys()
        for key, value in single.items():
            assert float(dist[key]) == pytest.approx(float(value), abs=1e-6) \
                if key.startswith('attn_') else dist[key] == value
