"""Mean ± std over runs of the noise probe's accuracy and correlation."""
import shutil

import numpy as np
import pytest
from PIL import Image

from rollingq_mm.analysis import read_csv
from rollingq_mm.analysis.run_table import (aggregate_runs, find_run_files,
                                            format_runs_table,
                                            runs_table_csv_rows)

LEVELS = (0.0, 1.0)


def tables(top1s, r_audio):
    accuracy = [dict(corrupted=m, level=str(level), top1_fused=str(v))
                for m, values in zip(('audio', 'visual'), top1s)
                for level, v in zip(LEVELS, values)]
    correlation = [dict(modality='audio', pearson_r=str(r_audio))]
    return accuracy, correlation


def test_mean_and_sample_std_per_method():
    runs = dict(vanilla=[tables([(0.8, 0.5), (0.8, 0.7)], 0.1),
                         tables([(0.9, 0.6), (0.9, 0.6)], 0.3)],
                rollingq=[tables([(0.85, 0.7), (0.85, 0.75)], 0.6)])
    table = aggregate_runs(runs, ['audio', 'visual'], LEVELS)
    vanilla, rollingq = table
    assert vanilla['num_runs'] == 2
    assert vanilla['audio@1'] == pytest.approx(
        (0.55, np.std([0.5, 0.6], ddof=1)))
    assert vanilla['visual@0'] == pytest.approx((0.85, np.std([0.8, 0.9],
                                                              ddof=1)))
    assert vanilla['r_audio'] == pytest.approx((0.2, np.std([0.1, 0.3],
                                                            ddof=1)))
    assert 'r_visual' not in vanilla
    assert rollingq['audio@1'] == (0.7, 0.0)

    text = format_runs_table(table, ['audio', 'visual'], LEVELS).splitlines()
    assert text[0].startswith('| method | runs | fused top-1 (%), audio '
                              'noise 0 / 1 |')
    assert text[2] == ('| vanilla | 2 | 85.0 ± 7.1 / 55.0 ± 7.1 | '
                       '85.0 ± 7.1 / 65.0 ± 7.1 | +0.20 ± 0.14 | n/a |')
    rows = runs_table_csv_rows(table)
    assert rows[0].keys() == rows[1].keys()
    assert rows[1]['r_audio_mean'] == 0.6 and rows[0]['audio@1_mean'] == 0.55


def test_find_run_files(tmp_path):
    (tmp_path / 'rollingq_avdigits.py').write_text('')
    with pytest.raises(FileNotFoundError, match='expected one dumped config'):
        find_run_files(str(tmp_path))
    (tmp_path / 'best_acc_fused_top1_epoch_3.pth').write_bytes(b'')
    (tmp_path / 'epoch_3.pth').write_bytes(b'')
    config, checkpoint = find_run_files(str(tmp_path))
    assert config.endswith('rollingq_avdigits.py')
    assert checkpoint.endswith('best_acc_fused_top1_epoch_3.pth')
    # A test config beside the run: the Runner's own dump is the one.
    (tmp_path / 'rollingq_avdigits.py').write_text('model = 1\n')
    (tmp_path / 'test_rollingq_avdigits.py').write_text('model = 2\n')
    with pytest.raises(FileNotFoundError, match='test_rollingq'):
        find_run_files(str(tmp_path))
    (tmp_path / '20261129_151314' / 'vis_data').mkdir(parents=True)
    (tmp_path / '20261129_151314' / 'vis_data' / 'config.py').write_text(
        'model = 1\n')
    assert find_run_files(str(tmp_path))[0].endswith('/rollingq_avdigits.py')


def test_tool_tabulates_probed_runs(probe, trained_rollingq, run_tool,
                                    tmp_path):
    """noise_probe_runs.py --reuse on two runs whose probes are done."""
    run_dirs = []
    for name in ('seed0', 'seed1'):
        run_dir = tmp_path / 'runs' / name
        run_dir.mkdir(parents=True)
        shutil.copy(trained_rollingq['config'], run_dir / 'tiny.py')
        (run_dir / 'best_acc_fused_top1_epoch_2.pth').write_bytes(b'')
        done = tmp_path / 'out' / 'tiny' / name
        done.mkdir(parents=True)
        for csv_file in ('accuracy.csv', 'correlation.csv'):
            shutil.copy(probe['out_dir'] / csv_file, done / csv_file)
        run_dirs.append(str(run_dir))
    run = run_tool('tools/analysis/noise_probe_runs.py', *run_dirs,
                   '--levels', '0', '0.5', '1', '--out-dir',
                   str(tmp_path / 'out'), '--reuse')
    assert run.returncode == 0, run.stderr[-3000:]
    summary = read_csv(str(tmp_path / 'out' / 'summary.csv'))
    assert [r['method'] for r in summary] == ['tiny']
    assert summary[0]['num_runs'] == '2'
    expected = [r for r in probe['accuracy']
                if r['corrupted'] == 'visual' and r['level'] == '0.5'][0]
    assert float(summary[0]['visual@0.5_mean']) == pytest.approx(
        float(expected['top1_fused']))
    assert float(summary[0]['visual@0.5_std']) == 0.0
    with Image.open(tmp_path / 'out' / 'summary.png') as image:
        image.verify()
    markdown = (tmp_path / 'out' / 'summary.md').read_text()
    assert '| tiny | 2 |' in markdown and 'noise_probe_runs.py' in markdown
