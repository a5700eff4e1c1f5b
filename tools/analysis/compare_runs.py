"""Overlay AIR, attention shares and accuracies of several runs in one PNG.

Example:
    python tools/analysis/compare_runs.py work_dirs/vanilla_avdigits \
        work_dirs/rollingq_avdigits --labels vanilla rollingq --out cmp.png
"""
import argparse
import os.path as osp

from mmengine.logging import print_log

from rollingq_mm.visualization import load_run_curves, plot_run_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+',
                        help='work dirs, log dirs or scalars.json files')
    parser.add_argument('--labels', nargs='+', help='one label per run '
                        '(default: the work dir names)')
    parser.add_argument('--out', default='compare_runs.png', help='PNG path')
    parser.add_argument('--title', default='', help='figure title')
    args = parser.parse_args()
    labels = args.labels or [osp.basename(osp.normpath(w))
                             for w in args.work_dirs]
    if len(labels) != len(args.work_dirs):
        parser.error(f'{len(labels)} labels for {len(args.work_dirs)} runs')
    if len(set(labels)) != len(labels):
        parser.error(f'labels must be unique, got {labels}')
    runs = {label: load_run_curves(path)
            for label, path in zip(labels, args.work_dirs)}
    plot_run_curves(runs, args.out, title=args.title)
    print_log(f'wrote {args.out}', logger='current')


if __name__ == '__main__':
    main()
