"""tools/analysis/quality_report.py: predictions of tools/test.py --dump
joined with a per-sample quality CSV.

End to end on the tiny RollingQ model of conftest.py: its numbers against
numpy / scipy straight from the dump; then the joining rule and the errors
for a bad CSV or dump.
"""
import pickle
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats

from probe_summary import read_csv
from quality_report import (accuracy_by_quality, correlation_with_quality,
                            format_report, join_quality,
                            parse_quality_columns, prediction_records,
                            quality_bins, read_quality)

MODALITIES = ('audio', 'visual')
NOISE_VALUES = (0.1, 0.4, 1.5)
TOOL = Path(__file__).resolve().parents[3] / 'tools' / 'analysis' / \
    'quality_report.py'


@pytest.fixture(scope='module')
def dumped(trained_rollingq, run_tool, tmp_path_factory) -> dict:
    """tools/test.py --dump on the tiny model, and a quality CSV for it:
    ids as clip paths (``clips/<clip_id>.mp4``), an SNR in dB for audio, a
    noise std (three values) for the image, and one clip of another split.
    """
    folder = tmp_path_factory.mktemp('quality')
    predictions = folder / 'predictions.pkl'
    run = run_tool('tools/test.py', str(trained_rollingq['config']),
                   str(trained_rollingq['checkpoint']), '--dump',
                   str(predictions), '--work-dir', str(folder / 'test'))
    assert run.returncode == 0, run.stderr[-3000:]
    with open(predictions, 'rb') as file:
        samples = pickle.load(file)
    rng = np.random.default_rng(0)
    snr = rng.uniform(-5, 20, len(samples)).round(3)
    noise = rng.choice(NOISE_VALUES, len(samples))
    lines = ['clip,snr_db,image_noise'] + [
        f'clips/{s["clip_id"]}.mp4,{a},{v}'
        for s, a, v in zip(samples, snr, noise)] + ['clips/9_lucas_0.mp4,3,1']
    quality_csv = folder / 'quality.csv'
    quality_csv.write_text('\n'.join(lines) + '\n')
    return dict(folder=folder, predictions=predictions, samples=samples,
                quality_csv=quality_csv, snr=snr, noise=noise)


@pytest.fixture(scope='module')
def report(dumped, run_tool) -> dict:
    out_dir = dumped['folder'] / 'report'
    run = run_tool('tools/analysis/quality_report.py',
                   str(dumped['predictions']), str(dumped['quality_csv']),
                   '--id-column', 'clip', '--quality-columns',
                   'audio=snr_db', 'visual=-image_noise', '--bins', '4',
                   '--out-dir', str(out_dir))
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(out_dir=out_dir, log=run.stdout + run.stderr,
                accuracy=read_csv(str(out_dir / 'accuracy_by_quality.csv')),
                correlation=read_csv(
                    str(out_dir / 'attention_quality_correlation.csv')),
                joined=read_csv(str(out_dir / 'joined.csv')))


def from_dump(samples: list) -> dict:
    """Per-sample correctness of each score set and attention, by numpy."""
    labels = np.array([int(s['gt_label']) for s in samples])
    correct = {key: np.array([int(s['pred_score'][key].argmax())
                              for s in samples]) == labels
               for key in ('fused', ) + MODALITIES}
    attention = np.array([s['attn_share'].numpy() for s in samples])
    return dict(correct=correct, attention=attention)


def test_accuracy_by_quality_bin_equals_numpy_on_the_dump(dumped, report):
    direct = from_dump(dumped['samples'])
    # Audio: 60 distinct SNRs, 4 quantile bins of 15 by rank.
    order = np.argsort(dumped['snr'])
    expected = [('audio', order[k * 15:(k + 1) * 15]) for k in range(4)]
    # Image: quality = -noise, one bin per value, lowest quality first.
    expected += [('visual', np.flatnonzero(dumped['noise'] == value))
                 for value in sorted(NOISE_VALUES, reverse=True)]
    rows = report['accuracy']
    assert [(r['modality'], int(r['bin'])) for r in rows] == [
        ('audio', 1), ('audio', 2), ('audio', 3), ('audio', 4),
        ('visual', 1), ('visual', 2), ('visual', 3)]
    for row, (name, members) in zip(rows, expected):
        quality = dumped['snr'] if name == 'audio' else -dumped['noise']
        assert int(row['num_samples']) == len(members) > 0
        assert float(row['low']) == pytest.approx(quality[members].min())
        assert float(row['high']) == pytest.approx(quality[members].max())
        for key, correct in direct['correct'].items():
            assert float(row[f'top1_{key}']) == pytest.approx(
                correct[members].mean())
        for index, other in enumerate(MODALITIES):
            assert float(row[f'attn_{other}']) == pytest.approx(
                direct['attention'][members, index].mean(), abs=1e-6)
    # Bins of a modality partition the test split.
    assert sum(int(r['num_samples']) for r in rows
               if r['modality'] == 'visual') == len(dumped['samples'])


def test_correlation_equals_scipy_on_the_dump(dumped, report):
    attention = from_dump(dumped['samples'])['attention']
    qualities = dict(audio=dumped['snr'], visual=-dumped['noise'])
    rows = {r['modality']: r for r in report['correlation']}
    assert set(rows) == set(MODALITIES)
    for index, name in enumerate(MODALITIES):
        pearson = stats.pearsonr(attention[:, index], qualities[name])
        spearman = stats.spearmanr(attention[:, index], qualities[name])
        row = rows[name]
        assert int(row['num_samples']) == len(dumped['samples'])
        assert float(row['pearson_r']) == pytest.approx(pearson.statistic,
                                                        abs=1e-5)
        assert float(row['pearson_p']) == pytest.approx(pearson.pvalue,
                                                        rel=1e-3, abs=1e-6)
        assert float(row['spearman_r']) == pytest.approx(
            spearman.statistic, abs=1e-5)
        assert float(row['spearman_p']) == pytest.approx(
            spearman.pvalue, rel=1e-3, abs=1e-6)


def test_joined_rows_and_report(dumped, report):
    samples = dumped['samples']
    joined = report['joined']
    assert [r['clip_id'] for r in joined] == [s['clip_id'] for s in samples]
    assert [float(r['quality_visual']) for r in joined] == pytest.approx(
        -dumped['noise'])
    markdown = (report['out_dir'] / 'quality_report.md').read_text()
    assert (f'Matched {len(samples)} predictions; 0 predictions without a '
            'quality row were excluded; 1 CSV rows match no prediction '
            "('clips/9_lucas_0.mp4')") in markdown
    assert 'audio = snr_db, visual = -image_noise' in markdown
    pearson = float(report['correlation'][0]['pearson_r'])
    assert f'| audio | {len(samples)} | {pearson:.4g} |' in markdown
    # The log prints the same report.
    assert '| visual | 3 | -0.1 | -0.1 |' in report['log']
    assert '| visual | 3 | -0.1 | -0.1 |' in markdown


def run_in_process(monkeypatch, *args: str) -> None:
    """The tool's own code, run in this process as __main__."""
    monkeypatch.setattr(sys, 'argv', ['quality_report.py', *args])
    runpy.run_path(str(TOOL), run_name='__main__')


def test_errors_of_the_tool(dumped, monkeypatch, tmp_path):
    predictions = str(dumped['predictions'])
    rows = dumped['quality_csv'].read_text().splitlines()
    # No quality row for 40 of the 60 test clips.
    partial = tmp_path / 'partial.csv'
    partial.write_text('\n'.join(rows[:21]) + '\n')
    args = (predictions, str(partial), '--id-column', 'clip',
            '--quality-columns', 'audio=snr_db', '--out-dir',
            str(tmp_path / 'out'))
    with pytest.raises(SystemExit) as exit_info:
        run_in_process(monkeypatch, *args)
    missing = [s['clip_id'] for s in dumped['samples'][20:25]]
    assert exit_info.value.code == (
        f'quality_report.py: error: 40 of the 60 predictions in '
        f'{predictions} have no row in {partial}: ' +
        ', '.join(repr(c) for c in missing) +
        ', ... (35 more) (--allow-unmatched excludes them)')
    assert not (tmp_path / 'out').exists()
    # --allow-unmatched reports the 20 that match and says what it left out.
    run_in_process(monkeypatch, *args, '--allow-unmatched')
    assert 'Matched 20 predictions; 40 predictions without a quality row ' \
        'were excluded' in (tmp_path / 'out' / 'quality_report.md').read_text()
    assert len(read_csv(str(tmp_path / 'out' / 'joined.csv'))) == 20
    # Default columns: a column named after each modality, id 'clip_id'.
    with pytest.raises(SystemExit) as exit_info:
        run_in_process(monkeypatch, predictions, str(dumped['quality_csv']))
    assert (f"{dumped['quality_csv']} lacks the column(s) 'clip_id', "
            "'audio', 'visual' (columns: ['clip', 'snr_db', 'image_noise'])"
            ) in exit_info.value.code
    with pytest.raises(SystemExit) as exit_info:
        run_in_process(monkeypatch, predictions, str(dumped['quality_csv']),
                       '--id-column', 'clip', '--quality-columns',
                       'depth=snr_db')
    assert "--quality-columns names ['depth']; the predictions in " \
        f"{predictions} have the modalities ['audio', 'visual']" in \
        exit_info.value.code


def quality_file(path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_read_quality_errors(tmp_path):
    columns = parse_quality_columns(['audio=snr', 'visual=-noise'])
    assert columns == dict(audio=('snr', 1), visual=('noise', -1))
    good = quality_file(tmp_path / 'q.csv', 'clip,snr,noise\na,3,0.5\n')
    assert read_quality(good, 'clip', columns) == {
        'a': dict(audio=3.0, visual=-0.5)}
    # A quality column missing.
    path = quality_file(tmp_path / 'no_noise.csv', 'clip,snr\na,3\n')
    with pytest.raises(KeyError, match=r"no_noise\.csv lacks the column\(s\)"
                       r" 'noise' \(columns: \['clip', 'snr'\]\)"):
        read_quality(path, 'clip', columns)
    # The id column absent.
    with pytest.raises(KeyError, match=r"q\.csv lacks the column\(s\) "
                       r"'clip_id' .*--id-column"):
        read_quality(good, 'clip_id', columns)
    path = quality_file(tmp_path / 'inf.csv', 'clip,snr,noise\na,inf,0\n')
    with pytest.raises(ValueError, match=r"inf\.csv line 2 \(id 'a'\): snr "
                       r"= 'inf' is not a finite number"):
        read_quality(path, 'clip', columns)
    path = quality_file(tmp_path / 'empty.csv', 'clip,snr,noise\na,,1\n')
    with pytest.raises(ValueError, match=r"snr = '' is not a finite"):
        read_quality(path, 'clip', columns)
    path = quality_file(tmp_path / 'twice.csv',
                        'clip,snr,noise\na,1,0\nb,1,0\na,2,0\n')
    with pytest.raises(ValueError, match=r"1 ids appear more than once in "
                       r"clip: 'a'"):
        read_quality(path, 'clip', columns)
    for spec in ('audio', 'audio=', '=snr', 'audio=-'):
        with pytest.raises(ValueError, match='MODALITY=COLUMN'):
            parse_quality_columns([spec])


def prediction(clip_id, label=1, predicted=1, share=0.5, with_id=True):
    scores = torch.full((3, ), 0.1)
    scores[predicted] = 0.8
    sample = dict(gt_label=torch.tensor([label]),
                  pred_score=dict(fused=scores, audio=scores, visual=scores,
                                  fused_without_audio=scores),
                  attn_share=torch.tensor([share, 0.9 - share]))
    if with_id:
        sample['clip_id'] = clip_id
    return sample


def test_matching_rule():
    records = prediction_records(
        [prediction('a'), prediction('b.v2', 2, 0, 0.2),
         prediction('c')], 'p.pkl')
    assert records[1] == dict(clip_id='b.v2', label=2, pred_fused=0,
                              pred_audio=0, pred_visual=0,
                              attn_audio=pytest.approx(0.2),
                              attn_visual=pytest.approx(0.7))
    # Exact id, then the file name without folders and extension; an id
    # with a dot matches exactly.
    quality = {'clips/a.mp4': dict(audio=1.0), 'b.v2': dict(audio=2.0),
               'x/c': dict(audio=3.0), 'z': dict(audio=4.0)}
    joined, counts = join_quality(records, quality, 'q.csv', 'p.pkl')
    assert [r['quality_audio'] for r in joined] == [1.0, 2.0, 3.0]
    assert counts == dict(matched=3, unmatched_predictions=[],
                          unused_csv_rows=['z'])
    with pytest.raises(KeyError, match=r"no prediction matches q\.csv: 3 of "
                       r"the 3 predictions in p\.pkl have no row in q\.csv: "
                       r"'a', 'b\.v2', 'c'; its ids look like 'z'"):
        join_quality(records, {'z': dict(audio=4.0)}, 'q.csv', 'p.pkl',
                     allow_unmatched=True)
    with pytest.raises(ValueError, match=r"ids 'a' and 'clips/a\.mp4' both "
                       r"match clip 'a'"):
        join_quality(records, {'a': {}, 'clips/a.mp4': {}}, 'q.csv', 'p.pkl')


def test_head_without_attention():
    samples = [prediction(c, label=i % 2, predicted=0) for i, c in
               enumerate('abcd')]
    for sample in samples:
        del sample['attn_share']
    joined, counts = join_quality(
        prediction_records(samples, 'p.pkl'),
        {c: dict(visual=q) for c, q in zip('abcd', (1.0, 2.0, 3.0, 4.0))},
        'q.csv', 'p.pkl')
    accuracy = accuracy_by_quality(joined, ['visual'], bins=2)
    assert [(r['num_samples'], r['top1_fused']) for r in accuracy] == [
        (2, 0.5), (2, 0.5)]
    assert not [k for k in accuracy[0] if k.startswith('attn_')]
    assert correlation_with_quality(joined, ['visual']) == []
    report = format_report(accuracy, [], counts, dict(visual=('q', 1)),
                           'p.pkl', 'q.csv')
    assert 'The predictions carry no attention share' in report


def test_dump_without_clip_ids():
    with pytest.raises(KeyError, match=r"p\.pkl: the predictions carry no "
                       r"'clip_id' to join on .*meta_keys of the test "
                       r"pipeline's PackActionInputs"):
        prediction_records([prediction('a', with_id=False)], 'p.pkl')


def test_quality_bins():
    assert quality_bins([8, 7, 6, 5, 4, 3, 2, 1], 4).tolist() == [
        3, 3, 2, 2, 1, 1, 0, 0]
    # Few distinct values: one bin each.
    assert quality_bins([0.4, 1.5, 0.4, -2.0], 4).tolist() == [1, 2, 1, 0]
    assert quality_bins([5, 5, 5], 3).tolist() == [0, 0, 0]
    # Ties merge quantile edges: fewer bins, none empty.
    bins = quality_bins([3, 1, 2, 2, 2, 2, 2, 9, 10], 3)
    assert bins.tolist() == [1, 0, 0, 0, 0, 0, 0, 1, 1]
