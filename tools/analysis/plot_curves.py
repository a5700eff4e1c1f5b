"""Redraw a run's curves (AIR, attention shares, accuracies) from its logs.

Example:
    python tools/analysis/plot_curves.py work_dirs/rollingq_avdigits
"""
import argparse
import os.path as osp

from mmengine.logging import print_log

from rollingq_mm.visualization import load_run_curves, plot_run_curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dir', help='work dir, log dir or scalars.json')
    parser.add_argument('--out', help='PNG path; defaults to '
                        '<work_dir>/training_curves.png')
    parser.add_argument('--title', default=None, help='figure title')
    args = parser.parse_args()
    out = args.out or osp.join(args.work_dir, 'training_curves.png')
    name = osp.basename(osp.normpath(args.work_dir))
    plot_run_curves({name: load_run_curves(args.work_dir)}, out,
                    title=args.title if args.title is not None else name)
    print_log(f'wrote {out}', logger='current')


if __name__ == '__main__':
    main()
