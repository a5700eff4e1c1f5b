"""Which method wins, by how much, paired over seeds: benchmark run files.

Reads the ``runs.json`` files that ``benchmarks/avdigits_benchmark.py``
writes (one record per training run: method, seed, validation and test
metrics) and compares methods seed by seed: for every pair, the per-seed
differences of a metric, their mean, how many seeds each side wins, and two
p-values: the paired t-test (``scipy.stats.ttest_rel``) and the exact
sign-flip permutation test (all 2^n sign patterns of the n differences; with
5 seeds it cannot go below 2/32 = 0.0625, two-sided).

Several files can be read together, each with a label that prefixes its
methods (``cold=.../runs.json`` makes ``cold/vanilla``). A (method, seed)
that appears in two unlabelled files must have the same value of the metric
in both (the benchmark is deterministic per seed), else it is an error
naming both files.

Example (the AV-Digits comparison of docs/results_avdigits.md)::

    python tools/analysis/paired_seeds.py \\
        docs/results/avdigits_benchmark/runs.json \\
        docs/results/avdigits_baselines/runs.json \\
        --baseline vanilla --metric test.acc/fused_top1

``--pair A B`` (repeatable) compares only the pairs named.
"""
import argparse
import itertools
import json
import math
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from scipy import stats

#: The metrics the comparison reads by default: (path in a record, title).
DEFAULT_METRICS = (
    ('test.acc/fused_top1', 'test fused top-1'),
    ('val.fused', 'val fused top-1'),
    ('test.acc/visual_top1', 'test visual probe top-1'),
)

#: (method, seed) -> metric value.
Values = Dict[Tuple[str, int], float]


def metric_of(record: dict, path: str) -> Optional[float]:
    """The value at ``path`` (``test.acc/fused_top1``, ``val.fused``,
    ``final_air``) of a run record, or None where the record has none.

    Args:
        record (dict): One entry of ``runs.json``.
        path (str): The first dot splits the record field from the key
            inside it; metric names keep their slashes.

    Returns:
        float or None
    """
    field, _, key = path.partition('.')
    value = record.get(field)
    if key:
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else float(value)


def read_runs(sources: Sequence[str], metric: str) -> Values:
    """The metric per (method, seed) over ``[label=]runs.json`` sources.

    Args:
        sources (Sequence[str]): ``PATH`` or ``LABEL=PATH``; a label turns
            method ``m`` of that file into ``LABEL/m``.
        metric (str): See :func:`metric_of`.

    Returns:
        dict: (method, seed) -> value, for the records that have it.

    Raises:
        ValueError: A (method, seed) with two different values, naming both
            files and values.
    """
    values: Values = {}
    origin: Dict[Tuple[str, int], str] = {}
    for source in sources:
        label, _, path = source.rpartition('=')
        with open(path) as handle:
            records = json.load(handle)
        for record in records:
            method = f'{label}/{record["method"]}' if label else (
                record['method'])
            key = (method, int(record['seed']))
            value = metric_of(record, metric)
            if value is None:
                continue
            if key in values and values[key] != value:
                raise ValueError(
                    f'{method} seed {key[1]}: {metric} = {values[key]} in '
                    f'{origin[key]} but {value} in {path} (label the files '
                    'to compare them: LABEL=PATH)')
            values[key] = value
            origin.setdefault(key, path)
    return values


def sign_flip_p(differences: Sequence[float]) -> float:
    """Exact two-sided sign-flip permutation p-value of the mean difference.

    Under the null hypothesis each paired difference is as likely positive
    as negative; the p-value is the fraction of the 2^n sign patterns whose
    mean is at least as far from 0 as the observed one.

    Args:
        differences (Sequence[float]): The paired differences (n >= 1).

    Returns:
        float: In (0, 1].
    """
    observed = abs(sum(differences))
    count = 0
    patterns = list(itertools.product((1, -1), repeat=len(differences)))
    for signs in patterns:
        total = abs(sum(s * d for s, d in zip(signs, differences)))
        count += total >= observed - 1e-12
    return count / len(patterns)


def compare(values: Values, method: str, baseline: str) -> Optional[dict]:
    """``method`` − ``baseline`` over the seeds both have.

    Args:
        values (dict): See :func:`read_runs`.
        method (str): The method.
        baseline (str): The method it is compared against.

    Returns:
        dict or None: ``seeds``, ``differences`` (per seed), ``mean``,
        ``wins``, ``losses``, ``ties`` (of ``method``), ``t_p`` (paired
        t-test; None under 2 seeds or when every difference is equal),
        ``sign_flip_p``; None without common seeds.
    """
    seeds = sorted(s for m, s in values
                   if m == method and (baseline, s) in values)
    if not seeds:
        return None
    differences = [values[(method, s)] - values[(baseline, s)]
                   for s in seeds]
    t_p = None
    if len(seeds) >= 2 and len(set(differences)) > 1:
        t_p = float(stats.ttest_rel([values[(method, s)] for s in seeds],
                                    [values[(baseline, s)] for s in seeds]
                                    ).pvalue)
    return dict(seeds=seeds, differences=differences,
                mean=statistics.fmean(differences),
                wins=sum(d > 0 for d in differences),
                losses=sum(d < 0 for d in differences),
                ties=sum(d == 0 for d in differences), t_p=t_p,
                sign_flip_p=sign_flip_p(differences))


def format_p(p: Optional[float]) -> str:
    """A p-value with two significant digits, or '-'."""
    return '-' if p is None or math.isnan(p) else f'{p:.2g}'


def comparison_table(values: Values, pairs: Sequence[Tuple[str, str]],
                     title: str) -> str:
    """A markdown table, one row per (method, baseline) pair.

    Args:
        values (dict): See :func:`read_runs`.
        pairs (Sequence[tuple]): (method, baseline) pairs.
        title (str): The metric's name.

    Returns:
        str: The table (pairs without common seeds are left out).
    """
    lines = [f'| {title}: A − B | n | mean | per seed | A wins / B wins | '
             'paired t p | sign-flip p |', '|---|---|---|---|---|---|---|']
    for method, baseline in pairs:
        result = compare(values, method, baseline)
        if result is None:
            continue
        per_seed = ', '.join(f'{d:+.3f}' for d in result['differences'])
        lines.append(
            f'| {method} − {baseline} | {len(result["seeds"])} | '
            f'{result["mean"]:+.3f} | {per_seed} | {result["wins"]} / '
            f'{result["losses"]} | {format_p(result["t_p"])} | '
            f'{format_p(result["sign_flip_p"])} |')
    return '\n'.join(lines)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+',
                        help='runs.json files, as PATH or LABEL=PATH')
    parser.add_argument('--baseline', action='append', default=None,
                        help='compare every other method with this one '
                        '(repeatable); default: every pair')
    parser.add_argument('--pair', nargs=2, action='append', default=None,
                        metavar=('A', 'B'),
                        help='compare A with B (repeatable; instead of '
                        '--baseline / --methods)')
    parser.add_argument('--methods', nargs='+', default=None,
                        help='the methods to compare (default: all)')
    parser.add_argument('--metric', action='append', default=None,
                        help='record path, e.g. test.acc/fused_top1 or '
                        'val.fused (repeatable); default: '
                        + ', '.join(p for p, _ in DEFAULT_METRICS))
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[str]:
    """Print one table per metric; return them."""
    args = parse_args(argv)
    titles = dict(DEFAULT_METRICS)
    metrics = args.metric or [p for p, _ in DEFAULT_METRICS]
    tables = []
    for metric in metrics:
        values = read_runs(args.runs, metric)
        present = list(dict.fromkeys(m for m, _ in values))
        methods = args.methods or present
        named = [m for pair in args.pair or [] for m in pair]
        unknown = [m for m in methods + (args.baseline or []) + named
                   if m not in present]
        if unknown:
            raise ValueError(f'{metric}: no runs of {unknown} in {args.runs}'
                             f' (methods there: {present})')
        if args.pair:
            pairs = [tuple(pair) for pair in args.pair]
        elif args.baseline:
            pairs = [(m, b) for b in args.baseline for m in methods
                     if m != b]
        else:
            pairs = list(itertools.combinations(methods, 2))
        table = comparison_table(values, pairs, titles.get(metric, metric))
        print(table + '\n', flush=True)
        tables.append(table)
    return tables


if __name__ == '__main__':
    main()
