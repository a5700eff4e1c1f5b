"""Noise probe over several training runs; mean ± std table per method.

Runs tools/analysis/noise_probe.py on the best checkpoint of every RUN_DIR
(a training work dir: its dumped config and best_*.pth), then prints and
saves (summary.md, summary.csv, summary.png), per method (runs with the
same label are seeds of one method), fused top-1 under each noise level on
each modality and the Pearson r between attention and quality, as mean ± std
over the runs.

Example:
    python tools/analysis/noise_probe_runs.py \
        work_dirs/vanilla_avdigits_s* work_dirs/rollingq_avdigits_s* \
        --labels vanilla vanilla rollingq rollingq \
        --out-dir work_dirs/noise_probe_avdigits
"""
import argparse
import os.path as osp
import shlex
import subprocess
import sys
from collections import defaultdict

from mmengine.logging import print_log

# Helpers beside this script (its folder is on sys.path when it runs).
from probe_summary import read_csv, write_csv
from run_table import (find_run_files, format_runs_table, plot_runs_table,
                       probe_run_values, runs_table, runs_table_csv_rows)

PROBE = osp.join(osp.dirname(osp.abspath(__file__)), 'noise_probe.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('run_dirs', nargs='+', help='training work dirs')
    parser.add_argument('--labels', nargs='+',
                        help='method of each run (default: the name of its '
                        'dumped config)')
    parser.add_argument('--modalities', nargs='+',
                        help='modalities to corrupt (default: all)')
    parser.add_argument('--levels', nargs='+', type=float,
                        default=[0.0, 0.25, 0.5, 1.0])
    parser.add_argument('--seed', type=int, default=0, help='noise seed')
    parser.add_argument('--random-levels', type=float, metavar='MAX',
                        help='see noise_probe.py')
    parser.add_argument('--checkpoint-pattern', default='best_*.pth',
                        help='glob of the checkpoint in each run dir')
    parser.add_argument('--out-dir', default='work_dirs/noise_probe_runs')
    parser.add_argument('--reuse', action='store_true',
                        help='keep a run\'s probe results when its output '
                        'folder already has them')
    parser.add_argument('--cfg-options', nargs='+',
                        help='passed on to noise_probe.py')
    parser.add_argument('--title', default='', help='title of summary.png')
    args = parser.parse_args()
    if args.labels is not None and len(args.labels) != len(args.run_dirs):
        parser.error(f'{len(args.labels)} labels for {len(args.run_dirs)} '
                     'run dirs')
    return args


def probe_command(args: argparse.Namespace, config: str, checkpoint: str,
                  out_dir: str) -> list:
    """The noise_probe.py command line of one run (logs and results in
    ``out_dir``, so the training work dir is left as it is)."""
    command = [sys.executable, PROBE, config, checkpoint, '--work-dir',
               out_dir, '--out-dir', out_dir, '--seed', str(args.seed),
               '--levels', *map(str, args.levels)]
    if args.modalities:
        command += ['--modalities', *args.modalities]
    if args.random_levels is not None:
        command += ['--random-levels', str(args.random_levels)]
    if args.cfg_options:
        command += ['--cfg-options', *args.cfg_options]
    return command


def main() -> None:
    args = parse_args()
    runs = defaultdict(list)
    out_dirs = set()
    for index, run_dir in enumerate(args.run_dirs):
        config, checkpoint = find_run_files(run_dir, args.checkpoint_pattern)
        label = (args.labels[index] if args.labels else
                 osp.splitext(osp.basename(config))[0])
        out_dir = osp.join(args.out_dir, label,
                           osp.basename(osp.normpath(run_dir)))
        if out_dir in out_dirs:
            raise ValueError(f'two runs would write to {out_dir}: give the '
                             'run dirs distinct names')
        out_dirs.add(out_dir)
        done = all(
            osp.isfile(osp.join(out_dir, name))
            for name in ('accuracy.csv', 'correlation.csv'))
        if not (args.reuse and done):
            print_log(f'[{index + 1}/{len(args.run_dirs)}] {label}: '
                      f'{checkpoint}', logger='current')
            subprocess.run(probe_command(args, config, checkpoint, out_dir),
                           check=True)
        runs[label].append((read_csv(osp.join(out_dir, 'accuracy.csv')),
                            read_csv(osp.join(out_dir, 'correlation.csv'))))
    first_accuracy = next(iter(runs.values()))[0][0]
    modalities = args.modalities or list(
        dict.fromkeys(r['corrupted'] for r in first_accuracy))
    table = runs_table({
        label: [probe_run_values(accuracy, correlation, modalities,
                                 args.levels)
                for accuracy, correlation in tables]
        for label, tables in runs.items()
    })
    text = format_runs_table(table, modalities, args.levels)
    command = ' '.join(shlex.quote(a) for a in ['python', *sys.argv])
    with open(osp.join(args.out_dir, 'summary.md'), 'w') as file:
        file.write(f'{text}\n\nCommand: `{command}`\n')
    write_csv(runs_table_csv_rows(table),
              osp.join(args.out_dir, 'summary.csv'))
    plot_runs_table(table, modalities, args.levels,
                    osp.join(args.out_dir, 'summary.png'), title=args.title)
    print_log('noise probe over runs (mean ± std over runs)\n' + text,
              logger='current')


if __name__ == '__main__':
    main()
