"""Noise-probe results of several runs (seeds) per method, as one table.

The format of the RollingQ paper's robustness table (Ni et al., ICML 2025,
arXiv:2506.11465): per method, fused top-1 under noise levels 0 / 0.25 /
0.5 / 1.0 on each modality and the Pearson r between attention and input
quality, each as mean ± sample std (ddof = 1) over the method's runs.
"""
import glob
import os.path as osp
from typing import Dict, List, Mapping, Sequence, Tuple

import numpy as np

Tables = Tuple[List[dict], List[dict]]


def find_run_files(run_dir: str,
                   checkpoint_pattern: str = 'best_*.pth') -> Tuple[str, str]:
    """The config and checkpoint of a training work dir.

    MMEngine's Runner dumps the config as ``<work_dir>/<config name>.py``
    (and the same text as ``<work_dir>/<time>/vis_data/config.py``);
    ``CheckpointHook(save_best=...)`` writes ``best_<metric>_epoch_<n>.pth``.
    When the work dir holds other ``.py`` files too (e.g. a test config
    written beside the run), only those equal to a ``vis_data/config.py``
    of the run count.

    Args:
        run_dir (str): A training work dir.
        checkpoint_pattern (str): Glob of the checkpoint inside it.
            Defaults to 'best_*.pth'.

    Returns:
        tuple: ``(config_path, checkpoint_path)``.

    Raises:
        FileNotFoundError: naming ``run_dir`` unless exactly one config and
            one checkpoint match.
    """
    found = sorted(glob.glob(osp.join(run_dir, '*.py')))
    configs = found
    if len(found) > 1:
        dumped = {
            _read(path)
            for path in glob.glob(osp.join(run_dir, '*', 'vis_data',
                                           'config.py'))
        }
        configs = [path for path in found if _read(path) in dumped]
    checkpoints = sorted(glob.glob(osp.join(run_dir, checkpoint_pattern)))
    if len(configs) != 1 or len(checkpoints) != 1:
        raise FileNotFoundError(
            f'{run_dir}: expected one dumped config (*.py, the one equal to '
            f'<time>/vis_data/config.py when there are several) and one '
            f'checkpoint ({checkpoint_pattern}); found configs {found} and '
            f'checkpoints {checkpoints}')
    return configs[0], checkpoints[0]


def _read(path: str) -> str:
    """The text of a file."""
    with open(path) as file:
        return file.read()


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of runs."""
    values = np.asarray(values, dtype=np.float64)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def aggregate_runs(runs: Mapping[str, Sequence[Tables]],
                   modalities: Sequence[str],
                   levels: Sequence[float]) -> List[dict]:
    """Mean and std over each method's runs of accuracy and correlation.

    Args:
        runs (Mapping[str, Sequence[Tables]]): Method label -> one
            ``(accuracy_rows, correlation_rows)`` per run (rows as written
            to accuracy.csv / correlation.csv; values may be str).
        modalities (Sequence[str]): Corrupted modalities (columns).
        levels (Sequence[float]): Noise levels (columns).

    Returns:
        list[dict]: Per method ``method``, ``num_runs``, and for each
        column ``<m>@<level>`` and ``r_<m>`` a ``(mean, std)`` pair
        (fused top-1 in [0, 1]; ``r_<m>`` absent without attention).
    """
    table = []
    for method, tables in runs.items():
        row = dict(method=method, num_runs=len(tables))
        for name in modalities:
            for level in levels:
                row[f'{name}@{level:g}'] = mean_std([
                    float(r['top1_fused']) for accuracy, _ in tables
                    for r in accuracy if r['corrupted'] == name
                    and float(r['level']) == level
                ])
        for name in modalities:
            values = [float(r['pearson_r']) for _, correlation in tables
                      for r in correlation if r['modality'] == name]
            if len(values) == len(tables):
                row[f'r_{name}'] = mean_std(values)
        table.append(row)
    return table


def format_runs_table(table: Sequence[Mapping], modalities: Sequence[str],
                      levels: Sequence[float]) -> str:
    """A Markdown table of :func:`aggregate_runs` (top-1 in %).

    Args:
        table (Sequence[Mapping]): From :func:`aggregate_runs`.
        modalities (Sequence[str]): Corrupted modalities.
        levels (Sequence[float]): Noise levels.

    Returns:
        str: Header, separator and one line per method.
    """
    level_text = ' / '.join(f'{level:g}' for level in levels)
    header = ['method', 'runs'] + [
        f'fused top-1 (%), {name} noise {level_text}' for name in modalities
    ] + [f'Pearson r, {name}' for name in modalities]
    lines = ['| ' + ' | '.join(header) + ' |',
             '|' + '---|' * len(header)]
    for row in table:
        cells = [row['method'], str(row['num_runs'])]
        for name in modalities:
            cells.append(' / '.join(
                '{:.1f} ± {:.1f}'.format(*(100 * v for v in row[
                    f'{name}@{level:g}'])) for level in levels))
        for name in modalities:
            value = row.get(f'r_{name}')
            cells.append('n/a' if value is None else
                         '{:+.2f} ± {:.2f}'.format(*value))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def runs_table_csv_rows(table: Sequence[Mapping]) -> List[Dict[str, object]]:
    """:func:`aggregate_runs` flattened for a CSV (``<col>_mean/_std``).

    Args:
        table (Sequence[Mapping]): From :func:`aggregate_runs`.

    Returns:
        list[dict]: One flat row per method, all with the same columns
        (empty where a method has no value, e.g. no correlation).
    """
    columns = ['method', 'num_runs']
    for row in table:
        columns += [f'{key}_{stat}' for key, value in row.items()
                    if isinstance(value, tuple) for stat in ('mean', 'std')
                    if f'{key}_{stat}' not in columns]
    rows = []
    for row in table:
        flat = dict.fromkeys(columns, '')
        flat.update(method=row['method'], num_runs=row['num_runs'])
        for key, value in row.items():
            if isinstance(value, tuple):
                flat[f'{key}_mean'], flat[f'{key}_std'] = value
        rows.append(flat)
    return rows


def plot_runs_table(table: Sequence[Mapping], modalities: Sequence[str],
                    levels: Sequence[float], out_file: str,
                    title: str = '') -> str:
    """Draw :func:`aggregate_runs` into one PNG.

    One panel per corrupted modality with the fused top-1 (mean ± std over
    runs) of each method against the noise level, and, when the methods
    have attention, a panel of the Pearson r between attention and quality
    per modality (bars: mean, whiskers: std).

    Args:
        table (Sequence[Mapping]): From :func:`aggregate_runs`.
        modalities (Sequence[str]): Corrupted modalities.
        levels (Sequence[float]): Noise levels.
        out_file (str): PNG path.
        title (str): Figure title. Defaults to ''.

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    with_r = [row for row in table
              if all(f'r_{m}' in row for m in modalities)]
    num_panels = len(modalities) + bool(with_r)
    fig, axes = plt.subplots(1, num_panels, figsize=(4 * num_panels, 3.4),
                             squeeze=False)
    axes = axes[0]
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for ax, name in zip(axes, modalities):
        for index, row in enumerate(table):
            means, stds = zip(*(row[f'{name}@{level:g}'] for level in levels))
            ax.errorbar(levels, 100 * np.array(means), 100 * np.array(stds),
                        marker='o', capsize=3, color=colours[index],
                        label=f'{row["method"]} ({row["num_runs"]} runs)')
        ax.set_xlabel(f'{name} noise level (x {name} std)')
        ax.set_ylabel('fused test top-1 (%)')
        ax.set_title(f'{name} corrupted')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if with_r:
        ax = axes[-1]
        width = 0.8 / len(with_r)
        for index, row in enumerate(with_r):
            means, stds = zip(*(row[f'r_{m}'] for m in modalities))
            ax.bar(np.arange(len(modalities)) + index * width, means, width,
                   yerr=stds, capsize=3, color=colours[index],
                   label=row['method'])
        ax.set_xticks(np.arange(len(modalities)) + width *
                      (len(with_r) - 1) / 2)
        ax.set_xticklabels(modalities)
        ax.axhline(0, color='black', linewidth=0.8)
        ax.set_ylabel('Pearson r(attention, quality)')
        ax.set_title('attention follows quality?')
        ax.grid(alpha=0.3, axis='y')
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=90)
    plt.close(fig)
    return out_file
