"""Convert annotation files between the formats AudioVisualDataset reads.

Reads ``generic``, ``ogm_ge_ks`` (OGM-GE's ``CLIP_ID,SECONDS,LABEL``),
``space_list`` (``CLIP_ID ... LABEL``) or ``cremad``; writes ``generic``,
``ogm_ge_ks`` or ``space_list``. Every input line is validated; the first
bad one stops the conversion with its ``file:line``.

Examples::

    # OGM-GE Kinetics-Sounds list -> generic, frames + wav layout
    python tools/data/convert_annotations.py my_train.txt train.txt \\
        --from ogm_ge_ks --to generic \\
        --visual-template 'frames/{}' --audio-template 'audio/{}.wav'
    # generic -> space list
    python tools/data/convert_annotations.py train.txt train_ids.txt \\
        --from generic --to space_list
"""
import argparse
import sys

from mmengine.logging import print_log

from rollingq_mm.datasets import MissingClassListError
from rollingq_mm.datasets.annotation_formats import ANN_FORMATS
from rollingq_mm.datasets.preparation import (WRITE_FORMATS,
                                              convert_annotation)


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='input annotation file')
    parser.add_argument('dst', help='output annotation file')
    parser.add_argument('--from', dest='src_format', required=True,
                        choices=ANN_FORMATS)
    parser.add_argument('--to', dest='dst_format', required=True,
                        choices=WRITE_FORMATS)
    parser.add_argument('--classes', default=None,
                        help='class list file or shipped list name, for '
                        'name labels and range checks')
    parser.add_argument('--visual-template', default='{}',
                        help='clip id -> visual path (id-based inputs)')
    parser.add_argument('--audio-template', default='{}.wav',
                        help="clip id -> audio path (id-based inputs); '-' "
                        "for the video's audio track")
    parser.add_argument('--seconds', type=float, default=10,
                        help='SECONDS field of ogm_ge_ks output')
    return parser.parse_args()


def main() -> None:
    """Run the conversion."""
    args = parse_args()
    try:
        count = convert_annotation(
            args.src, args.dst, args.src_format, args.dst_format,
            classes=args.classes, visual_template=args.visual_template,
            audio_template=None if args.audio_template == '-'
            else args.audio_template,
            seconds=args.seconds)
    except MissingClassListError as error:
        sys.exit(f'error: {error}: pass --classes (a class-list file, a '
                 'shipped list such as kinetics_sounds_31, or a,b,c)')
    print_log(f'wrote {count} clips to {args.dst}', logger='current')


if __name__ == '__main__':
    main()
