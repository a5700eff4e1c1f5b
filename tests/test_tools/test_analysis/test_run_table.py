"""The harness's one run table (runs x methods -> mean ± std) and best-
checkpoint finder, and the noise-probe table over runs built on them."""
import shutil

import numpy as np
import pytest
from PIL import Image
from probe_summary import read_csv
from run_table import (find_checkpoint, find_run_files, format_mean_std,
                       format_runs_table, num_runs, probe_run_values,
                       runs_table, runs_table_csv_rows)

LEVELS = (0.0, 1.0)


def test_runs_table_gives_mean_and_sample_std_per_method():
    table = runs_table(dict(
        a=[dict(x=1.0, y=None), dict(x=3.0, y=5.0), dict(x=8.0)],
        b=[dict(y=2.0, x=4.0)]))
    assert list(table) == ['a', 'b']
    assert table['a']['x'] == dict(mean=pytest.approx(4.0),
                                   std=pytest.approx(np.std([1, 3, 8],
                                                            ddof=1)), n=3)
    # None or a missing column: that run has no value.
    assert table['a']['y'] == dict(mean=5.0, std=0.0, n=1)
    assert list(table['b']) == ['y', 'x']
    assert table['b']['x'] == dict(mean=4.0, std=0.0, n=1)
    assert 'z' not in runs_table(dict(c=[dict(z=None)]))['c']
    assert num_runs(table['a']) == 3 and num_runs(table['b']) == 1
    assert format_mean_std(table['a']['x']) == '4.000 ± 3.606'
    assert format_mean_std(dict(mean=-0.2, std=0.14), '+.2f') == \
        '-0.20 ± 0.14'
    assert format_mean_std(dict(mean=0.85, std=0.0707), '.1f', 100) == \
        '85.0 ± 7.1'


def test_find_checkpoint_picks_the_one_match_or_names_what_it_found(
        tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'expected one best_\*\.pth, found \[\]'):
        find_checkpoint(str(tmp_path))
    for name in ('epoch_3.pth', 'best_acc_fused_top1_epoch_3.pth',
                 'best_loss_epoch_2.pth', 'last_checkpoint'):
        (tmp_path / name).write_bytes(b'')
    assert find_checkpoint(
        str(tmp_path), 'best_acc_fused_top1_epoch_*.pth') == str(
            tmp_path / 'best_acc_fused_top1_epoch_3.pth')
    # Two best checkpoints match the default: refused, both named.
    with pytest.raises(FileNotFoundError, match=(
            r'expected one best_\*\.pth, found .*best_acc_fused_top1_epoch_3'
            r'\.pth.*best_loss_epoch_2\.pth')):
        find_checkpoint(str(tmp_path))
    (tmp_path / 'best_loss_epoch_2.pth').unlink()
    assert find_checkpoint(str(tmp_path)).endswith(
        'best_acc_fused_top1_epoch_3.pth')


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
    table = runs_table({
        method: [probe_run_values(*run, ['audio', 'visual'], LEVELS)
                 for run in method_runs]
        for method, method_runs in runs.items()})
    vanilla, rollingq = table['vanilla'], table['rollingq']
    assert num_runs(vanilla) == 2
    assert vanilla['audio@1'] == dict(
        mean=pytest.approx(0.55), std=pytest.approx(np.std([0.5, 0.6],
                                                           ddof=1)), n=2)
    assert vanilla['visual@0']['mean'] == pytest.approx(0.85)
    assert vanilla['r_audio']['mean'] == pytest.approx(0.2)
    assert vanilla['r_audio']['std'] == pytest.approx(
        np.std([0.1, 0.3], ddof=1))
    assert 'r_visual' not in vanilla
    assert rollingq['audio@1'] == dict(mean=0.7, std=0.0, n=1)

    text = format_runs_table(table, ['audio', 'visual'], LEVELS).splitlines()
    assert text[0].startswith('| method | runs | fused top-1 (%), audio '
                              'noise 0 / 1 |')
    assert text[2] == ('| vanilla | 2 | 85.0 ± 7.1 / 55.0 ± 7.1 | '
                       '85.0 ± 7.1 / 65.0 ± 7.1 | +0.20 ± 0.14 | n/a |')
    rows = runs_table_csv_rows(table)
    assert rows[0].keys() == rows[1].keys()
    assert list(rows[0])[:4] == ['method', 'num_runs', 'audio@0_mean',
                                 'audio@0_std']
    assert rows[1]['r_audio_mean'] == 0.6
    assert rows[0]['audio@1_mean'] == pytest.approx(0.55)
    assert 'r_visual_mean' not in rows[0] and rows[1]['num_runs'] == 1
    # A method without attention: its correlation cells stay empty.
    concat = runs_table({'concat': [probe_run_values(
        tables([(0.8, 0.4), (0.8, 0.6)], 0.0)[0], [], ['audio', 'visual'],
        LEVELS)]})
    rows = runs_table_csv_rows({**table, **concat})
    assert rows[2]['r_audio_mean'] == '' and rows[2]['audio@1_mean'] == 0.4
    assert format_runs_table(concat, ['audio', 'visual'], LEVELS).endswith(
        '| n/a | n/a |')


def test_probe_run_without_a_level_is_refused():
    accuracy, correlation = tables([(0.8, 0.5), (0.8, 0.7)], 0.1)
    with pytest.raises(ValueError, match='one accuracy row of audio at '
                       'noise level 0.5, found 0'):
        probe_run_values(accuracy, correlation, ['audio'], [0.5])


def test_find_run_files(tmp_path):
    (tmp_path / 'rollingq_avdigits.py').write_text('')
    with pytest.raises(FileNotFoundError, match=r'expected one best_\*'):
        find_run_files(str(tmp_path))
    (tmp_path / 'best_acc_fused_top1_epoch_3.pth').write_bytes(b'')
    (tmp_path / 'epoch_3.pth').write_bytes(b'')
    config, checkpoint = find_run_files(str(tmp_path))
    assert config.endswith('rollingq_avdigits.py')
    assert checkpoint.endswith('best_acc_fused_top1_epoch_3.pth')
    # A test config beside the run: the Runner's own dump is the one.
    (tmp_path / 'rollingq_avdigits.py').write_text('model = 1\n')
    (tmp_path / 'test_rollingq_avdigits.py').write_text('model = 2\n')
    with pytest.raises(FileNotFoundError,
                       match='expected one dumped config.*test_rollingq'):
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
