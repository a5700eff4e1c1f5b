"""tools/analysis/paired_seeds.py: per-seed differences and their tests."""
import importlib.util
import json
import math
from pathlib import Path

import pytest
from scipy import stats

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def paired():
    spec = importlib.util.spec_from_file_location(
        'paired_seeds', REPO / 'tools' / 'analysis' / 'paired_seeds.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_runs(path: Path, runs: dict) -> str:
    """runs.json with {(method, seed): test fused top-1}."""
    path.write_text(json.dumps([
        dict(method=m, seed=s, val=dict(fused=v - 0.05),
             test={'acc/fused_top1': v}) for (m, s), v in runs.items()]))
    return str(path)


def test_sign_flip_p_counts_the_sign_patterns_at_least_as_extreme(paired):
    # Signs of (1, 2, 3): sums 6, 0, 2, -4, 4, -2, 0, -6 -> |sum| >= 6: 2/8.
    assert paired.sign_flip_p([1.0, 2.0, 3.0]) == pytest.approx(2 / 8)
    # Five positive differences: only all-plus and all-minus reach it.
    assert paired.sign_flip_p([0.1, 0.2, 0.1, 0.3, 0.2]) == pytest.approx(
        2 / 32)
    assert paired.sign_flip_p([0.5, -0.5]) == 1.0


def test_comparison_is_the_paired_t_test_of_the_per_seed_differences(
        paired, tmp_path):
    a = [0.80, 0.76, 0.79, 0.81, 0.75]
    b = [0.74, 0.75, 0.72, 0.80, 0.76]
    runs = {('a', s): v for s, v in enumerate(a)}
    runs.update({('b', s): v for s, v in enumerate(b)})
    values = paired.read_runs([write_runs(tmp_path / 'r.json', runs)],
                              'test.acc/fused_top1')
    result = paired.compare(values, 'a', 'b')
    differences = [x - y for x, y in zip(a, b)]
    n = len(differences)
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean)**2 for d in differences) / (n - 1))
    t = mean / (sd / math.sqrt(n))
    assert result['mean'] == pytest.approx(mean)
    assert result['t_p'] == pytest.approx(2 * stats.t.sf(abs(t), n - 1))
    assert (result['wins'], result['losses'], result['ties']) == (4, 1, 0)
    assert result['differences'] == pytest.approx(differences)


def test_only_common_seeds_are_paired(paired, tmp_path):
    runs = {('a', 0): 0.8, ('a', 1): 0.7, ('a', 2): 0.9, ('b', 1): 0.6,
            ('b', 2): 0.6, ('b', 3): 0.1}
    values = paired.read_runs([write_runs(tmp_path / 'r.json', runs)],
                              'test.acc/fused_top1')
    result = paired.compare(values, 'a', 'b')
    assert result['seeds'] == [1, 2]
    assert result['differences'] == pytest.approx([0.1, 0.3])
    assert paired.compare(values, 'a', 'missing') is None


def test_files_agreeing_on_a_run_merge_and_disagreeing_ones_are_named(
        paired, tmp_path):
    first = write_runs(tmp_path / 'first.json', {('vanilla', 0): 0.7,
                                                 ('rollingq', 0): 0.8})
    second = write_runs(tmp_path / 'second.json', {('vanilla', 0): 0.7,
                                                   ('mbt', 0): 0.9})
    values = paired.read_runs([first, second], 'test.acc/fused_top1')
    assert values == {('vanilla', 0): 0.7, ('rollingq', 0): 0.8,
                      ('mbt', 0): 0.9}
    other = write_runs(tmp_path / 'other.json', {('vanilla', 0): 0.75})
    with pytest.raises(ValueError, match='first.json but 0.75 in .*other'):
        paired.read_runs([first, other], 'test.acc/fused_top1')
    labelled = paired.read_runs([f'cold={first}', f'warm={other}'],
                                'test.acc/fused_top1')
    assert labelled[('cold/vanilla', 0)] == 0.7
    assert labelled[('warm/vanilla', 0)] == 0.75


def test_table_rows_and_unknown_methods(paired, tmp_path, capsys):
    path = write_runs(tmp_path / 'r.json', {
        ('vanilla', 0): 0.70, ('vanilla', 1): 0.72, ('mbt', 0): 0.75,
        ('mbt', 1): 0.71})
    (table, ) = paired.main([path, '--baseline', 'vanilla', '--metric',
                             'test.acc/fused_top1'])
    row = table.splitlines()[-1]
    assert row.startswith('| mbt − vanilla | 2 | +0.020 | +0.050, -0.010 | '
                          '1 / 1 | ')
    assert row.endswith(' | 1 |')
    assert table in capsys.readouterr().out
    with pytest.raises(ValueError, match=r"no runs of \['pmr'\]"):
        paired.main([path, '--methods', 'pmr', 'vanilla'])


def test_named_pairs_only(paired, tmp_path):
    path = write_runs(tmp_path / 'r.json', {
        ('vanilla', 0): 0.70, ('concat', 0): 0.80, ('pmr', 0): 0.78,
        ('mbt', 0): 0.75})
    (table, ) = paired.main([path, '--pair', 'pmr', 'concat', '--pair',
                             'mbt', 'vanilla', '--metric',
                             'test.acc/fused_top1'])
    rows = [line.split(' | ')[0] for line in table.splitlines()[2:]]
    assert rows == ['| pmr − concat', '| mbt − vanilla']
    with pytest.raises(ValueError, match=r"no runs of \['ogm_ge'\]"):
        paired.main([path, '--pair', 'ogm_ge', 'concat'])
