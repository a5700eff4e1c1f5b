"""Accuracy per noise level and attention-quality correlation from records.

Pure functions on the per-sample records of the noise probe (see
:mod:`probe_passes`): one record is a flat dict with
``setting``, ``corrupted``, ``level``, ``sample_idx``, ``label``,
``pred_<key>`` (predicted class of each score set, ``fused`` and each
modality's probe), ``attn_<m>`` (attention share of the fusion CLS on m,
only for heads with attention) and ``level_<m>`` (the noise level applied
to m in that sample). They read the same whether the records come from the
probe in memory or from its ``records.csv``.
"""
import csv
import math
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
from scipy import stats

CLEAN = 'clean'
RANDOM = 'random'


def top1(records: Sequence[Mapping], key: str) -> float:
    """Fraction of records whose ``pred_<key>`` equals their label.

    Args:
        records (Sequence[Mapping]): Per-sample records.
        key (str): Score set, e.g. ``'fused'`` or ``'audio'``.

    Returns:
        float: Top-1 accuracy in [0, 1].
    """
    if not records:
        raise ValueError('top1 of an empty set of records')
    correct = [int(r[f'pred_{key}']) == int(r['label']) for r in records]
    return float(np.mean(correct))


def score_keys(records: Sequence[Mapping]) -> List[str]:
    """The score sets present in the records (``fused`` first)."""
    keys = [name[len('pred_'):] for name in records[0]
            if name.startswith('pred_')]
    return sorted(keys, key=lambda k: (k != 'fused', keys.index(k)))


def setting_summary(records: Sequence[Mapping],
                    modalities: Sequence[str]) -> Dict[str, float]:
    """Top-1 of every score set and mean attention share of one setting.

    Args:
        records (Sequence[Mapping]): Records of one evaluation pass.
        modalities (Sequence[str]): Modality names.

    Returns:
        dict: ``num_samples``, ``top1_<key>`` per score set and, when the
        records carry attention, ``attn_<m>`` (mean share) per modality.
    """
    summary = {'num_samples': len(records)}
    for key in score_keys(records):
        summary[f'top1_{key}'] = top1(records, key)
    for name in modalities:
        if f'attn_{name}' in records[0]:
            summary[f'attn_{name}'] = float(
                np.mean([float(r[f'attn_{name}']) for r in records]))
    return summary


def accuracy_by_level(records: Sequence[Mapping], modalities: Sequence[str],
                      levels: Sequence[float]) -> List[dict]:
    """One row per corrupted modality and level.

    Level 0 of every modality is the clean pass (``setting == 'clean'``),
    other levels the pass with only that modality corrupted.

    Args:
        records (Sequence[Mapping]): Records of all passes.
        modalities (Sequence[str]): Corrupted modalities, in row order.
        levels (Sequence[float]): Noise levels, in row order.

    Returns:
        list[dict]: ``corrupted``, ``level`` and :func:`setting_summary`.
    """
    rows = []
    for name in modalities:
        for level in levels:
            if level == 0:
                subset = [r for r in records if r['setting'] == CLEAN]
            else:
                subset = [
                    r for r in records if r['corrupted'] == name
                    and r['setting'] != RANDOM
                    and math.isclose(float(r['level']), level)
                ]
            if not subset:
                raise ValueError(
                    f'no records of {name} at noise level {level}')
            rows.append(dict(corrupted=name, level=float(level),
                             **setting_summary(subset, modalities)))
    return rows


def attention_quality_correlation(records: Sequence[Mapping],
                                  modalities: Sequence[str]) -> List[dict]:
    """Pearson r between attention on a modality and that modality's quality.

    Uses the records of the random-level pass, where every sample has its
    own noise level on every modality. The quality of modality m in sample
    i is ``-level_m(i)`` (less noise, higher quality), so r > 0 means the
    fusion attends more to m when m is cleaner, as it should.

    Args:
        records (Sequence[Mapping]): Records of all passes.
        modalities (Sequence[str]): Modality names.

    Returns:
        list[dict]: Per modality ``modality``, ``num_samples``,
        ``pearson_r``, ``p_value`` (two-sided, scipy.stats.pearsonr);
        empty when the records carry no attention or no random pass.
    """
    subset = [r for r in records if r['setting'] == RANDOM]
    rows = []
    for name in modalities:
        if not subset or f'attn_{name}' not in subset[0]:
            continue
        attention = np.array([float(r[f'attn_{name}']) for r in subset])
        quality = -np.array([float(r[f'level_{name}']) for r in subset])
        result = stats.pearsonr(attention, quality)
        rows.append(dict(modality=name, num_samples=len(subset),
                         pearson_r=float(result.statistic),
                         p_value=float(result.pvalue)))
    return rows


def write_csv(rows: Sequence[Mapping], path: str,
              fieldnames: Optional[Sequence[str]] = None) -> str:
    """Write dict rows to a CSV file (header from the first row).

    Args:
        rows (Sequence[Mapping]): The rows.
        path (str): Output file.
        fieldnames (Sequence[str], optional): Column order; None takes the
            keys of the first row. Defaults to None.

    Returns:
        str: ``path``.
    """
    fieldnames = list(fieldnames or (rows[0].keys() if rows else []))
    with open(path, 'w', newline='') as file:
        writer = csv.DictWriter(file, fieldnames=fieldnames)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_csv(path: str) -> List[dict]:
    """Rows of a CSV file written by :func:`write_csv` (values as str).

    Args:
        path (str): The file.

    Returns:
        list[dict]: One dict per row.
    """
    with open(path, newline='') as file:
        return list(csv.DictReader(file))
