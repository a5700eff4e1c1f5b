"""Runs x methods -> mean ± std, and the checkpoint of a training run.

The one table builder of the experiment harness: :func:`runs_table` gives,
per method, the mean ± sample std (ddof = 1) over its runs (seeds) of every
column, for ``benchmarks/avdigits_benchmark.py`` (which puts this folder on
``sys.path``) and ``noise_probe_runs.py``; :func:`find_checkpoint` is the one
finder of a run's best checkpoint for both.

The noise-probe table is the format of the RollingQ paper's robustness table
(Ni et al., ICML 2025, arXiv:2506.11465): per method, fused top-1 under
noise levels 0 / 0.25 / 0.5 / 1.0 on each modality and the Pearson r between
attention and input quality.
"""
import glob
import os.path as osp
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

#: Column -> ``dict(mean=..., std=..., n=...)`` of one method.
MethodStats = Dict[str, Dict[str, float]]


def find_checkpoint(work_dir: str, pattern: str = 'best_*.pth') -> str:
    """The single checkpoint of a training work dir that matches ``pattern``.

    ``CheckpointHook(save_best=...)`` keeps one ``best_<metric>_epoch_<n>.pth``
    per metric (it deletes the previous best).

    Args:
        work_dir (str): A training work dir.
        pattern (str): Glob of the checkpoint inside it.
            Defaults to 'best_*.pth'.

    Returns:
        str: The checkpoint path.

    Raises:
        FileNotFoundError: naming ``work_dir``, ``pattern`` and the matches
            unless exactly one file matches.
    """
    found = sorted(glob.glob(osp.join(work_dir, pattern)))
    if len(found) != 1:
        raise FileNotFoundError(
            f'{work_dir}: expected one {pattern}, found {found}')
    return found[0]


def find_run_files(run_dir: str,
                   checkpoint_pattern: str = 'best_*.pth') -> Tuple[str, str]:
    """The config and checkpoint of a training work dir.

    MMEngine's Runner dumps the config as ``<work_dir>/<config name>.py``
    (and the same text as ``<work_dir>/<time>/vis_data/config.py``). When
    the work dir holds other ``.py`` files too (e.g. a test config written
    beside the run), only those equal to a ``vis_data/config.py`` of the
    run count. The checkpoint is :func:`find_checkpoint`'s.

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
    if len(configs) != 1:
        raise FileNotFoundError(
            f'{run_dir}: expected one dumped config (*.py, the one equal to '
            f'<time>/vis_data/config.py when there are several); found '
            f'{found}')
    return configs[0], find_checkpoint(run_dir, checkpoint_pattern)


def _read(path: str) -> str:
    """The text of a file."""
    with open(path) as file:
        return file.read()


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of runs."""
    values = np.asarray(values, dtype=np.float64)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    return float(values.mean()), std


def runs_table(
    runs: Mapping[str, Sequence[Mapping[str, Optional[float]]]]
) -> Dict[str, MethodStats]:
    """Mean ± sample std over each method's runs of every column.

    Args:
        runs (Mapping[str, Sequence[Mapping]]): Method -> one
            ``{column: value}`` per run (run = seed); a value of None or a
            missing column means the run has no such value.

    Returns:
        dict: Method -> column -> ``dict(mean=..., std=..., n=...)`` over
        the runs that have a value (``n`` of them), for the columns at
        least one run has, in the order of their first appearance.
    """
    table = {}
    for method, rows in runs.items():
        columns = list(dict.fromkeys(key for row in rows for key in row))
        table[method] = {}
        for column in columns:
            values = [row[column] for row in rows
                      if row.get(column) is not None]
            if values:
                mean, std = mean_std(values)
                table[method][column] = dict(mean=mean, std=std,
                                             n=len(values))
    return table


def num_runs(stats: MethodStats) -> int:
    """The number of runs of one method of :func:`runs_table` (the most
    values any column has)."""
    return max((column['n'] for column in stats.values()), default=0)


def format_mean_std(stats: Mapping[str, float], spec: str = '.3f',
                    scale: float = 1.0) -> str:
    """``'<mean> ± <std>'`` of one cell of :func:`runs_table`.

    Args:
        stats (Mapping[str, float]): ``mean`` and ``std``.
        spec (str): Format spec of the mean; the std takes it without a
            sign flag. Defaults to '.3f'.
        scale (float): Factor of both, e.g. 100 for %. Defaults to 1.0.

    Returns:
        str: e.g. ``'0.720 ± 0.028'``.
    """
    return (f'{scale * stats["mean"]:{spec}} ± '
            f'{scale * stats["std"]:{spec.lstrip("+")}}')


def probe_run_values(accuracy: Sequence[Mapping],
                     correlation: Sequence[Mapping],
                     modalities: Sequence[str],
                     levels: Sequence[float]) -> Dict[str, float]:
    """One noise-probe run as a row of :func:`runs_table`.

    Args:
        accuracy (Sequence[Mapping]): The run's accuracy.csv rows (values
            may be str).
        correlation (Sequence[Mapping]): Its correlation.csv rows.
        modalities (Sequence[str]): Corrupted modalities (columns).
        levels (Sequence[float]): Noise levels (columns).

    Returns:
        dict: ``<m>@<level>`` -> fused top-1 in [0, 1] and, for the
        modalities with a correlation row, ``r_<m>`` -> Pearson r.

    Raises:
        ValueError: an accuracy row of a modality and level is missing.
    """
    row = {}
    for name in modalities:
        for level in levels:
            values = [float(r['top1_fused']) for r in accuracy
                      if r['corrupted'] == name and float(r['level']) == level]
            if len(values) != 1:
                raise ValueError(f'expected one accuracy row of {name} at '
                                 f'noise level {level:g}, found '
                                 f'{len(values)}')
            row[f'{name}@{level:g}'] = values[0]
    for r in correlation:
        if r['modality'] in modalities:
            row[f'r_{r["modality"]}'] = float(r['pearson_r'])
    return row


def format_runs_table(table: Mapping[str, MethodStats],
                      modalities: Sequence[str],
                      levels: Sequence[float]) -> str:
    """The noise-probe :func:`runs_table` as Markdown (top-1 in %).

    Args:
        table (Mapping[str, MethodStats]): :func:`runs_table` of
            :func:`probe_run_values` rows.
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
    for method, stats in table.items():
        cells = [method, str(num_runs(stats))]
        for name in modalities:
            cells.append(' / '.join(
                format_mean_std(stats[f'{name}@{level:g}'], '.1f', 100)
                for level in levels))
        for name in modalities:
            value = stats.get(f'r_{name}')
            cells.append('n/a' if value is None else
                         format_mean_std(value, '+.2f'))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def runs_table_csv_rows(
        table: Mapping[str, MethodStats]) -> List[Dict[str, object]]:
    """:func:`runs_table` flattened for a CSV (``<col>_mean/_std``).

    Args:
        table (Mapping[str, MethodStats]): From :func:`runs_table`.

    Returns:
        list[dict]: One flat row per method (``method``, ``num_runs``,
        then the columns), all with the same columns (empty where a method
        has no value, e.g. no correlation).
    """
    columns = ['method', 'num_runs']
    for stats in table.values():
        columns += [f'{key}_{stat}' for key in stats
                    for stat in ('mean', 'std')
                    if f'{key}_{stat}' not in columns]
    rows = []
    for method, stats in table.items():
        flat = dict.fromkeys(columns, '')
        flat.update(method=method, num_runs=num_runs(stats))
        for key, value in stats.items():
            flat[f'{key}_mean'], flat[f'{key}_std'] = value['mean'], value[
                'std']
        rows.append(flat)
    return rows


def plot_runs_table(table: Mapping[str, MethodStats],
                    modalities: Sequence[str], levels: Sequence[float],
                    out_file: str, title: str = '') -> str:
    """Draw the noise-probe :func:`runs_table` into one PNG.

    One panel per corrupted modality with the fused top-1 (mean ± std over
    runs) of each method against the noise level, and, when the methods
    have attention, a panel of the Pearson r between attention and quality
    per modality (bars: mean, whiskers: std).

    Args:
        table (Mapping[str, MethodStats]): :func:`runs_table` of
            :func:`probe_run_values` rows.
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

    with_r = [method for method, stats in table.items()
              if all(f'r_{m}' in stats for m in modalities)]
    num_panels = len(modalities) + bool(with_r)
    fig, axes = plt.subplots(1, num_panels, figsize=(4 * num_panels, 3.4),
                             squeeze=False)
    axes = axes[0]
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for ax, name in zip(axes, modalities):
        for index, (method, stats) in enumerate(table.items()):
            means, stds = _means_stds(
                stats, [f'{name}@{level:g}' for level in levels])
            ax.errorbar(levels, 100 * means, 100 * stds, marker='o',
                        capsize=3, color=colours[index],
                        label=f'{method} ({num_runs(stats)} runs)')
        ax.set_xlabel(f'{name} noise level (x {name} std)')
        ax.set_ylabel('fused test top-1 (%)')
        ax.set_title(f'{name} corrupted')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if with_r:
        ax = axes[-1]
        width = 0.8 / len(with_r)
        for index, method in enumerate(with_r):
            means, stds = _means_stds(table[method],
                                      [f'r_{m}' for m in modalities])
            ax.bar(np.arange(len(modalities)) + index * width, means, width,
                   yerr=stds, capsize=3, color=colours[index], label=method)
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


def _means_stds(stats: MethodStats,
                columns: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Means and stds of some columns of one method, as two arrays."""
    return (np.array([stats[c]['mean'] for c in columns]),
            np.array([stats[c]['std'] for c in columns]))
