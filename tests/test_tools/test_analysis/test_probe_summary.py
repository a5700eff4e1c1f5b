"""Accuracy per level and attention-quality correlation on made-up records."""
import math

import numpy as np
import pytest

from probe_summary import (accuracy_by_level, attention_quality_correlation,
                           read_csv, setting_summary, top1, write_csv)


def record(setting, corrupted, level, idx, label, fused, audio, visual,
           attn=(0.5, 0.4), levels=(0.0, 0.0)):
    return dict(setting=setting, corrupted=corrupted, level=level,
                sample_idx=idx, label=label, pred_fused=fused,
                pred_audio=audio, pred_visual=visual, attn_audio=attn[0],
                attn_visual=attn[1], level_audio=levels[0],
                level_visual=levels[1])


@pytest.fixture
def records():
    clean = [record('clean', 'none', 0.0, i, i % 3, i % 3, i % 3,
                    (i + 1) % 3, attn=(0.6, 0.3)) for i in range(6)]
    noisy = [record('audio@1', 'audio', 1.0, i, i % 3,
                    i % 3 if i < 3 else 0, 1, (i + 1) % 3,
                    attn=(0.2, 0.7), levels=(1.0, 0.0)) for i in range(6)]
    rng = np.random.default_rng(0)
    levels = rng.uniform(0, 1, (40, 2))
    random = [record('random', 'all', math.nan, i, 0, 0, 0, 0,
                     attn=(0.8 - 0.5 * a, 0.1 + 0.2 * (1 - v)),
                     levels=(a, v)) for i, (a, v) in enumerate(levels)]
    return clean + noisy + random


def test_top1_counts_matching_labels(records):
    clean = records[:6]
    assert top1(clean, 'fused') == 1.0
    assert top1(clean, 'visual') == 0.0
    with pytest.raises(ValueError, match='empty'):
        top1([], 'fused')


def test_setting_summary_has_every_score_set_and_attention(records):
    summary = setting_summary(records[6:12], ['audio', 'visual'])
    assert summary['num_samples'] == 6
    # labels 0,1,2,0,1,2; fused 0,1,2,0,0,0 -> 4 of 6
    assert summary['top1_fused'] == pytest.approx(4 / 6)
    assert summary['top1_audio'] == pytest.approx(2 / 6)
    assert summary['attn_audio'] == pytest.approx(0.2)
    assert list(summary)[1] == 'top1_fused'


def test_level_zero_rows_are_the_clean_pass(records):
    rows = accuracy_by_level(records, ['audio'], [0.0, 1.0])
    assert [(r['corrupted'], r['level']) for r in rows] == [('audio', 0.0),
                                                            ('audio', 1.0)]
    assert rows[0]['top1_fused'] == 1.0 and rows[0]['attn_audio'] == 0.6
    assert rows[1]['top1_fused'] == pytest.approx(4 / 6)
    with pytest.raises(ValueError, match='no records of visual at noise '
                       'level 1.0'):
        accuracy_by_level(records, ['visual'], [1.0])


def test_correlation_sign_follows_quality(records):
    rows = {r['modality']: r for r in attention_quality_correlation(
        records, ['audio', 'visual'])}
    # attention on each modality falls exactly linearly with its own noise
    # level: quality = -level, so r = +1.
    assert rows['audio']['pearson_r'] == pytest.approx(1.0)
    assert rows['visual']['pearson_r'] == pytest.approx(1.0)
    assert rows['audio']['num_samples'] == 40
    assert rows['audio']['p_value'] < 1e-10
    no_attention = [{k: v for k, v in r.items() if not k.startswith('attn')}
                    for r in records]
    assert attention_quality_correlation(no_attention, ['audio']) == []
    assert attention_quality_correlation(records[:12], ['audio']) == []


def test_csv_round_trip(records, tmp_path):
    path = write_csv(records, str(tmp_path / 'r.csv'))
    rows = read_csv(path)
    assert len(rows) == len(records)
    assert rows[7]['setting'] == 'audio@1'
    assert float(rows[20]['level_audio']) == records[20]['level_audio']
    assert top1(rows, 'fused') == top1(records, 'fused')
