"""Benchmark the data pipeline: raw clips vs pre-computed features.

Clips per second delivered by a PyTorch DataLoader (``--workers`` worker
processes, ``pseudo_collate``) over :class:`AudioVisualDataset` with the
Kinetics-Sounds recipe, two ways, measured in the same run on the same clips:

* (a) ``raw``: the video files themselves; 3 frames sampled at 1 fps and
  decoded with PyAV, the audio track decoded and turned into the 1024 x 128
  Kaldi fbank (``SampleSegmentFrames`` + ``LoadAudio`` + ``KaldiFbank``).
* (b) ``precomputed``: the output of the preparation tools for the same
  clips (1-fps JPEG frame folders + fbank ``.npy``), read with
  ``SampleSegmentFrames`` + ``LoadPrecomputedAudioFeature``.

Both then run the same test-time image transforms (resize to 224 x 224,
``FormatShape``, ``FormatAudioShape``, ``PackActionInputs``). The clips are
the real files of ``../shared/data/av_clips`` that have audio (2.4-10.4 s,
240p-720p) and the nine 3 s GRID clips, each listed ``--repeats`` times.
Each variant first runs one untimed pass (worker start-up, caches), then
``--passes`` timed passes; the figure is clips / second over the timed
passes, and the script prints the ratio (b) / (a).

Run ``python benchmarks/bench_data.py`` (about a minute on 2 cores).
"""
import argparse
import os
import os.path as osp
import tempfile
import time
from pathlib import Path
from typing import List

import torch
from mmaction.registry import DATASETS
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

import rollingq_mm  # noqa: F401  (registers the components)
from rollingq_mm.datasets.preparation import (ClipTask, extract_clip,
                                              feature_file, frame_dir)

AV_CLIPS = Path(__file__).resolve().parents[1] / '..' / 'shared' / 'data' \
    / 'av_clips'
CLIPS = ['chaplin.mp4', 'fire2.mp4', 'flipping_a_pancake.mkv',
         'kinetics_style_makeup.avi'] + sorted(
             f'grid_samples/{p.name}'
             for p in (AV_CLIPS / 'grid_samples').glob('*.mpg'))
IMAGE_TAIL = [
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios')),
]
RAW_PIPELINE = [
    dict(type='SampleSegmentFrames', num_segments=3, fps=1.0,
         test_mode=True),
    dict(type='LoadAudio', sample_rate=None),
    dict(type='KaldiFbank'),
] + IMAGE_TAIL
PRECOMPUTED_PIPELINE = [
    dict(type='SampleSegmentFrames', num_segments=3, test_mode=True),
    dict(type='LoadPrecomputedAudioFeature'),
] + IMAGE_TAIL
FBANK = [dict(type='LoadAudio', sample_rate=None), dict(type='KaldiFbank')]


def parse_args() -> argparse.Namespace:
    """Command-line arguments."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--workers', type=int, default=2,
                        help='DataLoader worker processes')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--repeats', type=int, default=4,
                        help='times each clip is listed in the dataset')
    parser.add_argument('--passes', type=int, default=2,
                        help='timed passes over the dataset per variant')
    return parser.parse_args()


def write_lines(path: str, lines: List[str], repeats: int) -> str:
    with open(path, 'w') as handle:
        for _ in range(repeats):
            handle.writelines(line + '\n' for line in lines)
    return path


def clips_per_second(ann_file: str, prefix: dict, pipeline: list,
                     args: argparse.Namespace) -> float:
    """Clips per second of a DataLoader over one dataset (after warm-up)."""
    dataset = DATASETS.build(dict(
        type='AudioVisualDataset', ann_file=ann_file, data_prefix=prefix,
        num_classes=len(CLIPS), test_mode=True, pipeline=pipeline))
    loader = DataLoader(dataset, batch_size=args.batch_size,
                        num_workers=args.workers,
                        persistent_workers=args.workers > 0,
                        collate_fn=pseudo_collate)
    for _ in loader:
        pass
    start = time.perf_counter()
    seen = 0
    for _ in range(args.passes):
        for batch in loader:
            seen += len(batch['data_samples'])
    return seen / (time.perf_counter() - start)


def main() -> None:
    """Prepare the clips once, then time both variants."""
    args = parse_args()
    init_default_scope('mmaction')
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as work:
        names = [osp.splitext(osp.basename(c))[0] for c in CLIPS]
        for clip, name in zip(CLIPS, names):
            result = extract_clip(ClipTask(name, str(AV_CLIPS / clip), work,
                                           feature_pipeline=FBANK))
            if result.status == 'failed':
                raise RuntimeError(result.reason)
        raw_ann = write_lines(
            osp.join(work, 'raw.txt'),
            [f'{c} - {i}' for i, c in enumerate(CLIPS)], args.repeats)
        pre_ann = write_lines(
            osp.join(work, 'pre.txt'),
            [f'{osp.relpath(frame_dir(work, n), work)} '
             f'{osp.relpath(feature_file(work, n), work)} {i}'
             for i, n in enumerate(names)], args.repeats)
        raw = clips_per_second(raw_ann, dict(video=str(AV_CLIPS), audio=''),
                               RAW_PIPELINE, args)
        pre = clips_per_second(pre_ann, dict(video=work, audio=work),
                               PRECOMPUTED_PIPELINE, args)
    total = len(CLIPS) * args.repeats
    print(f'{total} clips per pass, {args.passes} timed passes, '
          f'{args.workers} DataLoader worker processes, batch '
          f'{args.batch_size}, {os.cpu_count()} CPU cores')
    print(f'(a) raw video + audio -> frames + fbank: {raw:.1f} clips/s')
    print(f'(b) pre-computed frames + fbank .npy:    {pre:.1f} clips/s')
    print(f'ratio (b) / (a): {pre / raw:.2f}x')


if __name__ == '__main__':
    main()
