"""Parsing of scalars.json into curves, merging of resumed runs, the PNG."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from rollingq_mm.visualization import load_run_curves, plot_run_curves

ROOT = Path(__file__).resolve().parents[2]


def write_scalars(log_dir: Path, records: list) -> None:
    (log_dir / 'vis_data').mkdir(parents=True)
    with open(log_dir / 'vis_data' / 'scalars.json', 'w') as handle:
        for record in records:
            handle.write(json.dumps(record) + '\n')


def air_record(epoch, air, angle=0.0):
    return {'rollingq/air': air, 'rollingq/attn_audio': 0.5 + air / 4,
            'rollingq/attn_visual': 0.5 - air / 4,
            'rollingq/rotation_angle': angle, 'step': epoch}


def test_resumed_run_reads_as_one(tmp_path):
    write_scalars(tmp_path / '20260101_000000', [
        {'loss': 1.0, 'air': 0.3, 'step': 5, 'iter': 5, 'epoch': 1},
        air_record(1, 0.4), {'acc/fused_top1': 0.5, 'acc/audio_top1': 0.4,
                             'step': 1},
        air_record(2, 0.8, angle=30.0),
        # killed before validation of epoch 2
    ])
    write_scalars(tmp_path / '20260101_010000', [
        air_record(2, 0.7, angle=25.0),
        {'acc/fused_top1': 0.6, 'acc/audio_top1': 0.45, 'step': 2},
        air_record(3, 0.2),
        {'acc/fused_top1': 0.7, 'acc/audio_top1': 0.5, 'step': 3},
    ])
    curves = load_run_curves(str(tmp_path))
    assert curves.air == {1: 0.4, 2: 0.7, 3: 0.2}
    assert curves.rotation_epochs == [2]
    assert curves.accuracy['fused'] == {1: 0.5, 2: 0.6, 3: 0.7}
    assert curves.accuracy['audio'][3] == 0.5
    assert curves.attention['visual'][3] == pytest.approx(0.45)


def test_malformed_line_is_named(tmp_path):
    write_scalars(tmp_path / 'log', [air_record(1, 0.1)])
    with open(tmp_path / 'log' / 'vis_data' / 'scalars.json', 'a') as handle:
        handle.write('{"step": 2, \n')
    with pytest.raises(ValueError, match=r'scalars.json:2: not JSON'):
        load_run_curves(str(tmp_path / 'log'))


def test_missing_logs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_run_curves(str(tmp_path))


def test_tools_write_valid_pngs(tmp_path):
    for name, air in (('vanilla', 0.9), ('rollingq', 0.1)):
        angle = 10.0 if name == 'rollingq' else 0
        write_scalars(tmp_path / name / '20260101_000000',
                      [air_record(1, air, angle=angle),
                       {'acc/fused_top1': 0.5, 'step': 1}])
    one = tmp_path / 'one.png'
    run = subprocess.run(
        [sys.executable, str(ROOT / 'tools/analysis/plot_curves.py'),
         str(tmp_path / 'rollingq'), '--out', str(one)],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    both = tmp_path / 'both.png'
    run = subprocess.run(
        [sys.executable, str(ROOT / 'tools/analysis/compare_runs.py'),
         str(tmp_path / 'vanilla'), str(tmp_path / 'rollingq'), '--out',
         str(both)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    for path in (one, both):
        with Image.open(path) as image:
            assert image.format == 'PNG' and image.size[0] > 1000


def test_plot_of_direct_call_returns_path(tmp_path):
    write_scalars(tmp_path / 'log', [air_record(1, 0.3)])
    out = tmp_path / 'c.png'
    assert plot_run_curves({'r': load_run_curves(str(tmp_path / 'log'))},
                           str(out)) == str(out)
    assert out.stat().st_size > 0
