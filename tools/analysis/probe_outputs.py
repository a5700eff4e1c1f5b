"""Files and text report of one noise probe."""
import os
import os.path as osp
from typing import Dict, List, Mapping, Sequence, Tuple

from probe_figure import plot_noise_probe
from probe_summary import (accuracy_by_level, attention_quality_correlation,
                           write_csv)

RECORDS_FILE = 'records.csv'
ACCURACY_FILE = 'accuracy.csv'
CORRELATION_FILE = 'correlation.csv'
FIGURE_FILE = 'noise_probe.png'
CORRELATION_FIELDS = ('modality', 'num_samples', 'pearson_r', 'p_value')


def probe_tables(records: Sequence[Mapping], modalities: Sequence[str],
                 levels: Sequence[float]) -> Tuple[List[dict], List[dict]]:
    """Accuracy rows and correlation rows of one probe.

    Args:
        records (Sequence[Mapping]): All passes' records.
        modalities (Sequence[str]): Corrupted modalities.
        levels (Sequence[float]): Noise levels.

    Returns:
        tuple: ``(accuracy_rows, correlation_rows)`` from
        :func:`accuracy_by_level` and :func:`attention_quality_correlation`.
    """
    return (accuracy_by_level(records, modalities, levels),
            attention_quality_correlation(records, modalities))


def save_probe_results(records: Sequence[Mapping],
                       accuracy: Sequence[Mapping],
                       correlation: Sequence[Mapping],
                       modalities: Sequence[str], out_dir: str,
                       title: str = '') -> Dict[str, str]:
    """Write the probe's CSV files and figure into ``out_dir``.

    Files: ``records.csv`` (one row per sample and pass), ``accuracy.csv``
    (top-1 of every score set and mean attention share per corrupted
    modality and level), ``correlation.csv`` (Pearson r and p-value between
    attention on a modality and its quality = minus its noise level; only
    a header when the head has no attention or no random pass ran) and
    ``noise_probe.png``.

    Args:
        records (Sequence[Mapping]): All passes' records.
        accuracy (Sequence[Mapping]): Accuracy rows (:func:`probe_tables`).
        correlation (Sequence[Mapping]): Correlation rows.
        modalities (Sequence[str]): Corrupted modalities.
        out_dir (str): Output folder (created).
        title (str): Figure title. Defaults to ''.

    Returns:
        dict: ``records``, ``accuracy``, ``correlation``, ``figure`` ->
        file path.
    """
    os.makedirs(out_dir, exist_ok=True)
    return dict(
        records=write_csv(records, osp.join(out_dir, RECORDS_FILE)),
        accuracy=write_csv(accuracy, osp.join(out_dir, ACCURACY_FILE)),
        correlation=write_csv(correlation,
                              osp.join(out_dir, CORRELATION_FILE),
                              fieldnames=CORRELATION_FIELDS),
        figure=plot_noise_probe(accuracy, correlation, records, modalities,
                                osp.join(out_dir, FIGURE_FILE), title=title))


def format_probe_report(accuracy: Sequence[Mapping],
                        correlation: Sequence[Mapping]) -> str:
    """The probe's results as aligned text tables (for the log).

    Args:
        accuracy (Sequence[Mapping]): Accuracy rows (:func:`probe_tables`).
        correlation (Sequence[Mapping]): Correlation rows.

    Returns:
        str: Accuracy / attention per level, then the correlations.
    """
    columns = [k for k in accuracy[0] if k.startswith(('top1_', 'attn_'))]
    lines = ['corrupted  level  ' + '  '.join(f'{c:>12}' for c in columns)]
    for row in accuracy:
        lines.append(f'{row["corrupted"]:<9}  {row["level"]:5.2f}  ' +
                     '  '.join(f'{row[c]:12.4f}' for c in columns))
    if correlation:
        lines.append('Pearson r(attention on m, quality of m = -noise level '
                     'of m), random levels:')
        lines += [f'  {row["modality"]:<9} r = {row["pearson_r"]:+.4f}  '
                  f'p = {row["p_value"]:.3g}  n = {row["num_samples"]}'
                  for row in correlation]
    else:
        lines.append('no attention-quality correlation (the head reports no '
                     'attention, or no random-level pass ran)')
    return '\n'.join(lines)
