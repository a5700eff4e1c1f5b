"""Accuracy and attention against a per-sample quality that you already have.

Joins the predictions that ``tools/test.py --dump`` wrote with a CSV of
per-sample quality (one id column, one numeric column per modality; higher
is better) and reports, per modality, the fused and probe top-1 and the
mean attention share in quantile bins of that modality's quality, and
Pearson's and Spearman's r (two-sided p-values) between the attention share
on the modality and its quality: r > 0 means the fusion attends more to a
modality when it is better, as in ``noise_probe.py`` (whose quality is
minus its own noise level).

Matching rule: each prediction carries the ``clip_id`` of its sample (the
stem of its annotation line's visual path, e.g. ``0_theo_0`` for
``images/test/0_theo_0.png``; the test pipeline's ``PackActionInputs`` must
list ``clip_id`` in ``meta_keys``, as the AV-Digits configs do). A CSV id
matches the prediction whose ``clip_id`` equals it, or else equals its
file name without folders and extension (``clips/0_theo_0.mp4``). Every
prediction must match exactly one CSV row (``--allow-unmatched`` reports
and excludes those that do not); CSV rows without a prediction (other
splits) are counted and ignored; no match at all is an error.

Files written into ``--out-dir``: ``quality_report.md``, ``joined.csv``
(one row per matched prediction), ``accuracy_by_quality.csv`` and
``attention_quality_correlation.csv``.

Example:
    python tools/test.py configs/rollingq_avdigits.py CHECKPOINT \
        --dump work_dirs/test_rollingq/predictions.pkl
    python tools/analysis/quality_report.py \
        work_dirs/test_rollingq/predictions.pkl my_quality.csv \
        --id-column clip --quality-columns audio=snr_db visual=-blur \
        --bins 4 --out-dir work_dirs/test_rollingq/quality
"""
import argparse
import math
import os
import os.path as osp
from pathlib import PurePath
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np
from mmengine.fileio import load
from mmengine.logging import print_log
from scipy import stats

from rollingq_mm.keys import ATTN_SHARE_KEY, CLIP_ID_KEY, FUSED_KEY

# Helpers beside this script (its folder is on sys.path when it runs).
from probe_summary import (RANDOM, attention_quality_correlation, read_csv,
                           setting_summary, write_csv)

ID_KEY = CLIP_ID_KEY
NUM_EXAMPLES = 5
REPORT_FILE = 'quality_report.md'
JOINED_FILE = 'joined.csv'
ACCURACY_FILE = 'accuracy_by_quality.csv'
CORRELATION_FILE = 'attention_quality_correlation.csv'
CORRELATION_FIELDS = ('modality', 'num_samples', 'pearson_r', 'pearson_p',
                      'spearman_r', 'spearman_p')


def _examples(values: Sequence) -> str:
    """The first few values and how many more."""
    shown = ', '.join(repr(v) for v in values[:NUM_EXAMPLES])
    more = len(values) - NUM_EXAMPLES
    return shown + (f', ... ({more} more)' if more > 0 else '')


def dump_modalities(sample: Mapping) -> List[str]:
    """Modality names of a dumped prediction, in ``attn_share`` order.

    The head writes ``pred_score`` as ``fused`` then one probe per modality
    in the order of its ``modalities`` (TTA adds ``fused_without_<m>``).
    """
    return [key for key in sample['pred_score']
            if not key.startswith(FUSED_KEY)]


def prediction_records(samples: Sequence[Mapping],
                       dump_file: str) -> List[dict]:
    """Flat records of ``tools/test.py --dump`` predictions.

    Args:
        samples (Sequence[Mapping]): The unpickled dump.
        dump_file (str): Its path, for error messages.

    Returns:
        list[dict]: Per sample ``clip_id``, ``label``, ``pred_fused``,
        ``pred_<m>`` (each probe's class) and, for attention heads,
        ``attn_<m>`` (attention share of the fusion CLS on m).
    """
    if not samples:
        raise ValueError(f'{dump_file} holds no predictions')
    if ID_KEY not in samples[0]:
        raise KeyError(
            f'{dump_file}: the predictions carry no {ID_KEY!r} to join on '
            f'(keys: {sorted(samples[0])}). List it in the meta_keys of '
            "the test pipeline's PackActionInputs, as "
            'configs/_base_/datasets/avdigits.py does, e.g. tools/test.py '
            '... --cfg-options test_dataloader.dataset.pipeline.<index of '
            'PackActionInputs>.meta_keys=img_shape,clip_id')
    modalities = dump_modalities(samples[0])
    records = []
    for sample in samples:
        record = dict(clip_id=str(sample[ID_KEY]),
                      label=int(sample['gt_label']))
        for key in [FUSED_KEY] + modalities:
            record[f'pred_{key}'] = int(sample['pred_score'][key].argmax())
        if ATTN_SHARE_KEY in sample:
            for name, share in zip(modalities, sample[ATTN_SHARE_KEY]):
                record[f'attn_{name}'] = float(share)
        records.append(record)
    return records


def parse_quality_columns(specs: Sequence[str]) -> Dict[str, Tuple[str, int]]:
    """``MODALITY=COLUMN`` (``=-COLUMN``: minus the column) -> m: (col, sign).

    Args:
        specs (Sequence[str]): The ``--quality-columns`` values.

    Returns:
        dict: Modality -> (CSV column, +1 or -1).
    """
    columns = {}
    for spec in specs:
        name, sep, column = spec.partition('=')
        if not sep or not name or column in ('', '-'):
            raise ValueError(f'--quality-columns takes MODALITY=COLUMN or '
                             f'MODALITY=-COLUMN, got {spec!r}')
        sign = -1 if column.startswith('-') else 1
        columns[name] = (column[1:] if sign < 0 else column, sign)
    return columns


def read_quality(path: str, id_column: str,
                 columns: Mapping[str, Tuple[str, int]]) -> Dict[str, dict]:
    """Quality per id from a CSV file.

    Args:
        path (str): The CSV file.
        id_column (str): Column of the ids.
        columns (Mapping): Modality -> (column, sign), see
            :func:`parse_quality_columns`.

    Returns:
        dict: Id -> ``{modality: sign * float(value)}``.
    """
    rows = read_csv(path)
    if not rows:
        raise ValueError(f'{path} has no data rows')
    needed = [id_column] + [column for column, _ in columns.values()]
    missing = [column for column in needed if column not in rows[0]]
    if missing:
        raise KeyError(f'{path} lacks the column(s) {_examples(missing)} '
                       f'(columns: {list(rows[0])}); choose them with '
                       '--id-column and --quality-columns MODALITY=COLUMN')
    quality, duplicates = {}, []
    for line, row in enumerate(rows, start=2):
        key = row[id_column]
        if key in quality:
            duplicates.append(key)
        values = {}
        for name, (column, sign) in columns.items():
            try:
                value = float(row[column])
            except (TypeError, ValueError):
                value = math.nan
            if not math.isfinite(value):
                raise ValueError(
                    f'{path} line {line} (id {key!r}): {column} = '
                    f'{row[column]!r} is not a finite number (cap an '
                    'infinite SNR at a large finite value)')
            values[name] = sign * value
        quality[key] = values
    if duplicates:
        raise ValueError(f'{path}: {len(duplicates)} ids appear more than '
                         f'once in {id_column}: {_examples(duplicates)}')
    return quality


def join_quality(records: Sequence[Mapping], quality: Mapping[str, dict],
                 quality_file: str, dump_file: str,
                 allow_unmatched: bool = False) -> Tuple[List[dict], dict]:
    """Attach each prediction's quality (``quality_<m>``) by its clip id.

    A CSV id matches the prediction whose ``clip_id`` equals it or, failing
    that, equals its file name without folders and extension.

    Args:
        records (Sequence[Mapping]): :func:`prediction_records`.
        quality (Mapping): :func:`read_quality`.
        quality_file (str): The CSV path, for messages.
        dump_file (str): The dump path, for messages.
        allow_unmatched (bool): Exclude (and count) predictions without a
            CSV row instead of failing. Defaults to False.

    Returns:
        tuple: The matched records with ``quality_<m>`` added, and counts
        ``matched``, ``unmatched_predictions`` (ids),
        ``unused_csv_rows`` (ids).
    """
    clip_ids = {r[ID_KEY] for r in records}
    by_clip: Dict[str, str] = {}
    for key in quality:
        clip = key if key in clip_ids else PurePath(key).stem
        if clip in by_clip:
            raise ValueError(f'{quality_file}: ids {by_clip[clip]!r} and '
                             f'{key!r} both match clip {clip!r}')
        by_clip[clip] = key
    joined, unmatched = [], []
    for record in records:
        key = by_clip.get(record[ID_KEY])
        if key is None:
            unmatched.append(record[ID_KEY])
            continue
        joined.append(dict(record, **{f'quality_{m}': v
                                      for m, v in quality[key].items()}))
    unused = [key for clip, key in by_clip.items() if clip not in clip_ids]
    where = (f'{len(unmatched)} of the {len(records)} predictions in '
             f'{dump_file} have no row in {quality_file}: '
             f'{_examples(unmatched)}')
    if not joined:
        raise KeyError(f'no prediction matches {quality_file}: {where}; its '
                       f'ids look like {_examples(list(quality))}')
    if unmatched and not allow_unmatched:
        raise KeyError(where + ' (--allow-unmatched excludes them)')
    return joined, dict(matched=len(joined), unmatched_predictions=unmatched,
                        unused_csv_rows=unused)


def quality_bins(values: Sequence[float], bins: int) -> np.ndarray:
    """Bin index of each value, 0 = lowest quality.

    One bin per distinct value when there are at most ``bins`` of them, else
    quantile bins: with edges e_k the values at the k/bins quantiles
    (``method='inverted_cdf'``: data values), bin k holds e_k < q <= e_k+1
    (the first bin everything up to e_1), i.e. N/bins values each without
    ties. Tied edges merge, so heavily tied data gives fewer, unequal bins;
    no bin is empty.

    Args:
        values (Sequence[float]): Qualities.
        bins (int): Wanted number of bins.

    Returns:
        np.ndarray: Bin indices (N,), ``0 .. num_bins - 1``.
    """
    values = np.asarray(values, dtype=float)
    inner = np.unique(values)[:-1]
    if len(inner) >= bins:
        inner = np.unique(np.quantile(values, np.arange(1, bins) / bins,
                                      method='inverted_cdf'))
    index = np.searchsorted(inner, values, side='left')
    return np.unique(index, return_inverse=True)[1].reshape(-1)


def accuracy_by_quality(records: Sequence[Mapping],
                        modalities: Sequence[str], bins: int) -> List[dict]:
    """Top-1 and mean attention share per quality bin of each modality.

    Args:
        records (Sequence[Mapping]): :func:`join_quality` records.
        modalities (Sequence[str]): Modalities with a quality.
        bins (int): Wanted number of bins (:func:`quality_bins`).

    Returns:
        list[dict]: ``modality``, ``bin`` (1 = lowest quality), ``low``,
        ``high`` (least and greatest quality in the bin) and
        :func:`setting_summary` of the bin (``num_samples``,
        ``top1_fused``, ``top1_<m>``, ``attn_<m>``).
    """
    names = [k[len('attn_'):] for k in records[0] if k.startswith('attn_')]
    rows = []
    for name in modalities:
        quality = np.array([r[f'quality_{name}'] for r in records])
        index = quality_bins(quality, bins)
        for number in range(index.max() + 1):
            subset = [r for r, i in zip(records, index) if i == number]
            rows.append(dict(modality=name, bin=number + 1,
                             low=float(quality[index == number].min()),
                             high=float(quality[index == number].max()),
                             **setting_summary(subset, names)))
    return rows


def correlation_with_quality(records: Sequence[Mapping],
                             modalities: Sequence[str]) -> List[dict]:
    """Pearson and Spearman r (two-sided p) of attention share and quality.

    Args:
        records (Sequence[Mapping]): :func:`join_quality` records.
        modalities (Sequence[str]): Modalities with a quality.

    Returns:
        list[dict]: Per modality with attention :data:`CORRELATION_FIELDS`;
        empty when the head reports no attention.
    """
    # The noise probe's quality is minus the noise level: in its record
    # format, level_<m> = -quality_<m> gives attention_quality_correlation
    # this quality.
    as_probe = [dict(r, setting=RANDOM, **{f'level_{m}': -r[f'quality_{m}']
                                           for m in modalities})
                for r in records]
    rows = []
    for row in attention_quality_correlation(as_probe, modalities):
        name = row['modality']
        spearman = stats.spearmanr([r[f'attn_{name}'] for r in records],
                                   [r[f'quality_{name}'] for r in records])
        rows.append(dict(modality=name, num_samples=row['num_samples'],
                         pearson_r=row['pearson_r'], pearson_p=row['p_value'],
                         spearman_r=float(spearman.statistic),
                         spearman_p=float(spearman.pvalue)))
    return rows


def markdown_table(rows: Sequence[Mapping]) -> str:
    """Rows as a markdown table (floats with 4 significant digits)."""
    header = list(rows[0])
    cell = (lambda v: f'{v:.4g}' if isinstance(v, float) else str(v))
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    lines += ['| ' + ' | '.join(cell(r[k]) for k in header) + ' |'
              for r in rows]
    return '\n'.join(lines)


def format_report(accuracy: Sequence[Mapping],
                  correlation: Sequence[Mapping], counts: Mapping,
                  columns: Mapping[str, Tuple[str, int]], dump_file: str,
                  quality_file: str) -> str:
    """The report as markdown (also what the tool prints)."""
    unmatched = counts['unmatched_predictions']
    unused = counts['unused_csv_rows']
    quality = ', '.join(f'{m} = {"-" if s < 0 else ""}{c}'
                        for m, (c, s) in columns.items())
    lines = [
        f'# Accuracy and attention by quality: {osp.basename(dump_file)}',
        '', f'Predictions: `{dump_file}`; quality: `{quality_file}` '
        f'({quality}; higher is better).', '',
        f'Matched {counts["matched"]} predictions; {len(unmatched)} '
        'predictions without a quality row were excluded' +
        (f' ({_examples(unmatched)})' if unmatched else '') +
        f'; {len(unused)} CSV rows match no prediction' +
        (f' ({_examples(unused)})' if unused else '') + '.', '',
        '## Top-1 and mean attention share per quality bin', '',
        markdown_table(accuracy), '',
        '## Attention share on a modality vs its quality', ''
    ]
    lines.append(markdown_table(correlation) if correlation else
                 'The predictions carry no attention share (a head without '
                 'attention): accuracies only.')
    return '\n'.join(lines) + '\n'


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Accuracy by quality bin and attention-quality '
        'correlation of tools/test.py --dump predictions')
    parser.add_argument('dump', help='the .pkl of tools/test.py --dump')
    parser.add_argument('quality_csv', help='CSV of per-sample quality')
    parser.add_argument('--id-column', default=ID_KEY,
                        help='column of the clip ids (default: clip_id)')
    parser.add_argument('--quality-columns', nargs='+', metavar='M=COLUMN',
                        help='quality column of each modality; M=-COLUMN '
                        'takes minus the column (a noise level, where higher '
                        'is worse); default: a column named after each '
                        'modality of the predictions')
    parser.add_argument('--bins', type=int, default=4,
                        help='quantile bins per modality (default: 4)')
    parser.add_argument('--allow-unmatched', action='store_true',
                        help='exclude predictions without a quality row '
                        '(counted in the report) instead of failing')
    parser.add_argument('--out-dir',
                        help='output folder (default: <dump name>_quality '
                        'beside the dump)')
    args = parser.parse_args()
    if args.bins < 1:
        parser.error(f'--bins must be >= 1, got {args.bins}')
    if args.out_dir is None:
        args.out_dir = osp.splitext(args.dump)[0] + '_quality'
    return args


def quality_report(args: argparse.Namespace) -> str:
    """Join, tabulate and write the files of :func:`parse_args`'s ``args``.

    Returns:
        str: The markdown report.
    """
    samples = load(args.dump)
    records = prediction_records(samples, args.dump)
    known = dump_modalities(samples[0])
    columns = parse_quality_columns(args.quality_columns or
                                    [f'{m}={m}' for m in known])
    unknown = [m for m in columns if m not in known]
    if unknown:
        raise KeyError(f'--quality-columns names {unknown}; the predictions '
                       f'in {args.dump} have the modalities {known}')
    quality = read_quality(args.quality_csv, args.id_column, columns)
    joined, counts = join_quality(records, quality, args.quality_csv,
                                  args.dump, args.allow_unmatched)
    accuracy = accuracy_by_quality(joined, list(columns), args.bins)
    correlation = correlation_with_quality(joined, list(columns))
    report = format_report(accuracy, correlation, counts, columns, args.dump,
                           args.quality_csv)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(osp.join(args.out_dir, REPORT_FILE), 'w') as file:
        file.write(report)
    write_csv(joined, osp.join(args.out_dir, JOINED_FILE))
    write_csv(accuracy, osp.join(args.out_dir, ACCURACY_FILE))
    write_csv(correlation, osp.join(args.out_dir, CORRELATION_FILE),
              fieldnames=CORRELATION_FIELDS)
    return report


def main() -> None:
    args = parse_args()
    try:
        report = quality_report(args)
    except (KeyError, ValueError) as error:
        raise SystemExit(f'quality_report.py: error: {error.args[0]}')
    print_log(report + f'wrote {args.out_dir}/{{{REPORT_FILE}, '
              f'{JOINED_FILE}, {ACCURACY_FILE}, {CORRELATION_FILE}}}',
              logger='current')


if __name__ == '__main__':
    main()
