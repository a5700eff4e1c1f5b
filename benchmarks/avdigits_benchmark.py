"""Benchmark RollingQ against the vanilla and concat fusion on AV-Digits.

For every seed, the three entry configs ``configs/{vanilla,rollingq,concat}
_avdigits.py`` are trained with ``tools/train.py --seed SEED`` (the methods
interleaved per seed, their order rotated from seed to seed, so that the load
of a shared machine falls on all of them alike). Each run's best checkpoint on
the VALIDATION split (speaker lucas) is then evaluated on the TEST split
(speaker theo) with ``tools/test.py``, with two extra test metrics: the
attention share per modality and the split's AIR (``AttentionShareMetric``,
attention heads only) and the fused top-1 with each modality's input replaced
by its training mean (``ModalityContributionMetric``); the dumped per-sample
predictions give the fused top-1 and the image's attention share on the
clean, audio-corrupted and image-corrupted test samples (``test_meta.csv``).

The table gives, per method, the mean ± std over seeds of: best validation
fused top-1, test fused top-1, test top-1 of each modality's probe, the AIR
and attention shares of the last training epoch (``AIRHook``), the test AIR
and attention shares, the fused top-1 lost without each modality, the number
of rotations, the per-quality-group figures and the wall and CPU time of one
training run; then each fusion method's time ratios to vanilla (for
RollingQ: the same model and AIR statistics, plus the rotations).

Each training process runs ``--threads`` intra-op threads (default 1: the
towers are tiny, and more threads than free cores slow PyTorch down many
times on a shared machine) and one data-loading worker. Wall times depend on
the machine's load, CPU times (user + system of the training process and its
workers) much less; the ratios compare runs made side by side.

Results go to ``--out-dir``: ``runs.json`` (one record per run),
``summary.json``, ``results.md`` (the table) and ``runs.csv``.

Run ``python benchmarks/avdigits_benchmark.py`` (15 runs; about 2-3 min
per run on 2 idle cores). ``--no-test`` skips the test split (for choosing
hyper-parameters on validation, e.g. with ``--cfg-options
custom_hooks.0.rho=2.0``). ``--methods audio_only visual_only`` runs the
unimodal baselines (``configs/{audio,visual}_only_avdigits.py``): what each
tower reaches when it is trained alone; ``--methods vanilla ogm_ge pmr
mbt`` the imbalance methods the paper compares against
(``configs/{ogm_ge,pmr,mbt}_avdigits.py``, docs/baselines/).
``--warm-start`` first trains, per seed, each tower alone
(``audio_only``, ``visual_only``) and then starts every other method's towers
from those runs' best validation checkpoints (the fusion head and probes
start as usual): the setting of pretrained encoders, as in the paper.
``--from-runs A/runs.json B/runs.json`` trains nothing and writes one
table of the runs of several invocations (a run made twice is kept once and
must have given the same results; no time rows, as the invocations' times
are not comparable). A file given as ``LABEL=PATH`` names its methods
``LABEL/method``: runs of one method with other ``--cfg-options`` (e.g. an
``AIRHook`` option) get a column of their own beside the unlabelled runs.
Runs recorded before the benchmark stored the attention-quality
correlations get them from their per-group shares (exact for the 0/1
quality of AV-Digits; the split's group sizes from ``test_meta.csv``).
``--data-root`` runs it on another AV-Digits folder made by
``tools/data/avdigits/prepare_avdigits.py`` (e.g. clean images, no
corrupted samples).
"""
import argparse
import csv
import glob
import json
import math
import os
import os.path as osp
import re
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.fileio import load

from rollingq_mm.keys import ATTN_SHARE_KEY, CLIP_ID_KEY, FUSED_KEY
from rollingq_mm.visualization import load_run_curves

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
# The harness's one run-table module (mean ± std over runs, the best
# checkpoint of a run) lives in tools/analysis, beside noise_probe_runs.py.
if osp.join(REPO, 'tools', 'analysis') not in sys.path:
    sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))
from run_table import (  # noqa: E402
    find_checkpoint, format_mean_std, num_runs, runs_table)

METHODS = ('vanilla', 'rollingq', 'concat', 'ogm_ge', 'pmr', 'mbt',
           'audio_only', 'visual_only')
#: The unimodal run that trains each modality's tower alone
#: (``--warm-start`` starts the fusion methods from their towers).
TOWER_METHODS = dict(audio='audio_only', visual='visual_only')
#: What the benchmark runs unless ``--methods`` says otherwise.
DEFAULT_METHODS = ('vanilla', 'rollingq', 'concat')
MODALITIES = ('audio', 'visual')
#: The best validation checkpoint of a run and its epoch.
BEST_CKPT_PATTERN = 'best_acc_fused_top1_epoch_*.pth'
BEST_CKPT = re.compile(r'best_acc_fused_top1_epoch_(\d+)\.pth$')
#: ``corrupted`` values of the AV-Digits metadata and their names.
QUALITY_GROUPS = dict(none='clean', audio='audio corrupted',
                      visual='image corrupted')
#: Per modality, the key of the correlation between the visual attention
#: share and that modality's quality (see :func:`quality_metrics`).
QUALITY_CORRELATIONS = dict(visual='quality/r_attn_visual_image',
                            audio='quality/r_attn_visual_audio')


@dataclass
class RunRecord:
    """What one training + test run measured.

    Attributes:
        method (str): One of :data:`METHODS`, or ``LABEL/method`` for the
            runs of a labelled ``--from-runs`` file.
        seed (int): The training seed.
        wall_s (float): Wall time of ``tools/train.py`` in seconds.
        cpu_s (float): CPU time (user + system) of ``tools/train.py`` and its
            data-loading workers in seconds.
        best_epoch (int): Epoch of the best validation checkpoint.
        val (dict): Validation top-1 at that epoch: ``fused``, ``audio``,
            ``visual``.
        test (dict): The test metrics of ``tools/test.py``, e.g.
            ``acc/fused_top1``, ``attn/audio_mean``, ``contrib/visual_drop``.
        final_air (float, optional): AIR of the last training epoch (None
            without an attention head).
        final_attn (dict): Attention share per modality, last training epoch.
        rotation_epochs (list): Epochs at whose end the query was rotated.
    """
    method: str
    seed: int
    wall_s: float
    cpu_s: float
    best_epoch: int
    val: Dict[str, float]
    test: Dict[str, float] = field(default_factory=dict)
    final_air: Optional[float] = None
    final_attn: Dict[str, float] = field(default_factory=dict)
    rotation_epochs: List[int] = field(default_factory=list)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(
        description='RollingQ vs vanilla vs concat fusion on AV-Digits')
    parser.add_argument('--methods', nargs='+', default=None,
                        choices=METHODS,
                        help='methods to run (default: '
                        f'{" ".join(DEFAULT_METHODS)}; with --from-runs: '
                        'the methods to keep, default all)')
    parser.add_argument('--seeds', nargs='+', type=int,
                        default=[0, 1, 2, 3, 4], help='training seeds')
    parser.add_argument('--out-dir', default='work_dirs/benchmark_avdigits',
                        help='folder for the runs and the results')
    parser.add_argument('--threads', type=int, default=1,
                        help='intra-op threads of each training process')
    parser.add_argument('--no-test', action='store_true',
                        help='skip the test split (hyper-parameter choice '
                        'on validation)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='config overrides for every method, passed to tools/train.py '
        'and applied to the test config')
    parser.add_argument(
        '--from-runs', nargs='+', default=None, metavar='RUNS_JSON',
        help='train nothing: one table of the runs of earlier invocations '
        '(their runs.json, as PATH or LABEL=PATH; a label makes its '
        'methods LABEL/method), e.g. methods run in different sessions or '
        'with other --cfg-options; no time ratios (times of different '
        'invocations are not comparable)')
    parser.add_argument(
        '--warm-start', action='store_true',
        help='per seed, first train each tower alone (audio_only, '
        'visual_only), then start every fusion method\'s towers from those '
        'runs\' best validation checkpoints')
    parser.add_argument(
        '--data-root', default=None,
        help='another AV-Digits folder made by prepare_avdigits.py (e.g. '
        'with other noise options): every split\'s ann_file and '
        'data_prefix point there (explicit --cfg-options win)')
    args = parser.parse_args(argv)
    if args.methods is None and not args.from_runs:
        args.methods = list(DEFAULT_METHODS)
    if args.data_root is not None:
        args.cfg_options = {**data_root_options(args.data_root),
                            **args.cfg_options}
    return args


def data_root_options(root: str) -> Dict[str, str]:
    """Config overrides that read every split from the folder ``root``.

    Args:
        root (str): A folder with ``train.txt``, ``val.txt``, ``test.txt``
            (and the files they name), as written by
            ``tools/data/avdigits/prepare_avdigits.py``.

    Returns:
        dict: ``{split}_dataloader.dataset.ann_file`` and
        ``...data_prefix.{video,audio}`` for the three splits.

    Raises:
        FileNotFoundError: an annotation file is missing, naming it.
    """
    options = {}
    for split in ('train', 'val', 'test'):
        ann_file = osp.join(root, f'{split}.txt')
        if not osp.isfile(ann_file):
            raise FileNotFoundError(
                f'--data-root {root}: {ann_file} not found (make the folder '
                'with tools/data/avdigits/prepare_avdigits.py --out)')
        key = f'{split}_dataloader.dataset'
        options[f'{key}.ann_file'] = ann_file
        options[f'{key}.data_prefix.video'] = root
        options[f'{key}.data_prefix.audio'] = root
    return options


def run_command(command: List[str], env: Dict[str, str], log_file: str,
                what: str) -> Tuple[float, float]:
    """Run ``command`` from the repository root; return its times.

    Args:
        command (list[str]): The command line.
        env (dict): Its environment.
        log_file (str): Where its stdout and stderr go.
        what (str): Its name in error messages.

    Returns:
        tuple[float, float]: Wall time and CPU time (user + system of the
        process and of the children it waited for) in seconds.

    Raises:
        RuntimeError: Naming ``what``, the log file and its last lines when
            the command fails.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(log_file, 'w') as handle:
        code = subprocess.call(command, cwd=REPO, env=env, stdout=handle,
                               stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime -
                                                before.ru_stime)
    if code != 0:
        with open(log_file) as handle:
            tail = ''.join(handle.readlines()[-30:])
        raise RuntimeError(f'{what} failed with exit code {code}; log '
                           f'{log_file}, last lines:\n{tail}')
    return wall, cpu


def read_training(work_dir: str, method: str, seed: int, wall_s: float,
                  cpu_s: float) -> RunRecord:
    """A run's record from its work dir (logged scalars, best checkpoint).

    Args:
        work_dir (str): The run's work dir.
        method (str): The method name.
        seed (int): The training seed.
        wall_s (float): The measured wall time.
        cpu_s (float): The measured CPU time.

    Returns:
        RunRecord: Without test metrics.
    """
    epoch = int(BEST_CKPT.search(
        find_checkpoint(work_dir, BEST_CKPT_PATTERN)).group(1))
    curves = load_run_curves(work_dir)
    val = {}
    for name in ('fused', ) + MODALITIES:
        values = curves.accuracy.get(name, {})
        if epoch not in values:
            raise ValueError(f'{work_dir}: no validation acc/{name}_top1 '
                             f'logged for the best epoch {epoch}')
        val[name] = values[epoch]
    record = RunRecord(method=method, seed=seed, wall_s=wall_s, cpu_s=cpu_s,
                       best_epoch=epoch, val=val)
    if curves.air:
        last = max(curves.air)
        record.final_air = curves.air[last]
        record.final_attn = {m: curves.attention[m][last] for m in MODALITIES}
        record.rotation_epochs = list(curves.rotation_epochs)
    return record


def write_test_config(config: str, options: dict, out_file: str) -> str:
    """The test config: ``config`` with the options and contribution metric.

    With ``tools/test.py --tta``, ``ModalityAblationTTA`` predicts once more
    per modality with that input replaced by zeros, i.e. its training mean
    after standardisation (``tta_model`` with ``ablation='mean'``), and
    ``ModalityContributionMetric`` reports the fused top-1 lost without each
    modality.

    Args:
        config (str): The entry config.
        options (dict): ``--cfg-options`` overrides.
        out_file (str): Where to write the test config.

    Returns:
        str: ``out_file``.
    """
    cfg = Config.fromfile(osp.join(REPO, config))
    cfg.merge_from_dict(options)
    cfg.tta_model = dict(type='ModalityAblationTTA', ablation='mean')
    evaluators = cfg.test_evaluator
    if not isinstance(evaluators, (list, tuple)):
        evaluators = [evaluators]
    cfg.test_evaluator = list(evaluators) + [
        dict(type='ModalityContributionMetric', modalities=list(MODALITIES))
    ]
    cfg.dump(out_file)
    return out_file


def quality_metrics(predictions: str, meta_csv: str) -> Dict[str, float]:
    """Fused top-1 and visual attention share per sample-quality group.

    AV-Digits marks each sample's heavily corrupted modality in
    ``{split}_meta.csv`` (column ``corrupted``: ``none``, ``audio`` or
    ``visual``). An attention fusion that follows input quality gives the
    image more attention when the audio is corrupted and less when the
    image is.

    Args:
        predictions (str): The ``.pkl`` that ``tools/test.py --dump`` wrote
            (the test pipeline must pack ``clip_id`` in the metainfo).
        meta_csv (str): The split's metadata file.

    Returns:
        dict: ``quality/<group>/fused_top1`` and, for attention heads,
        ``quality/<group>/attn_visual`` for each group present, and
        Pearson's r between a sample's visual share and the quality of
        each modality (1 where that modality is not corrupted, else 0):
        ``quality/r_attn_visual_image`` (> 0: less attention on corrupted
        images) and ``quality/r_attn_visual_audio`` (< 0: more attention on
        the image when the audio is corrupted); left out where the
        split has no corrupted sample of that modality.
    """
    with open(meta_csv, newline='') as handle:
        meta = {row['clip_id']: (row['corrupted'], int(row['digit']))
                for row in csv.DictReader(handle)}
    visual = MODALITIES.index('visual')
    correct: Dict[str, List[float]] = {}
    shares: Dict[str, List[float]] = {}
    for index, sample in enumerate(load(predictions)):
        clip = sample.get(CLIP_ID_KEY)
        if clip not in meta:
            raise KeyError(f'{predictions}: sample {index} (clip_id {clip!r})'
                           f' is not listed in {meta_csv}')
        group, digit = meta[clip]
        label = int(sample['gt_label'])
        if label != digit:
            raise ValueError(f'{predictions}: sample {index} ({clip}) has '
                             f'label {label}, {meta_csv} says {digit}')
        fused = int(sample['pred_score'][FUSED_KEY].argmax())
        correct.setdefault(group, []).append(float(fused == label))
        if ATTN_SHARE_KEY in sample:
            shares.setdefault(group, []).append(
                float(sample[ATTN_SHARE_KEY][visual]))
    metrics = {f'quality/{g}/fused_top1': statistics.fmean(v)
               for g, v in correct.items()}
    metrics.update({f'quality/{g}/attn_visual': statistics.fmean(v)
                    for g, v in shares.items()})
    share = np.array([s for v in shares.values() for s in v])
    groups = np.array([g for g, v in shares.items() for _ in v])
    for modality, column in QUALITY_CORRELATIONS.items():
        clean = (groups != modality).astype(float)
        if share.size and clean.std() > 0 and share.std() > 0:
            metrics[column] = float(np.corrcoef(share, clean)[0, 1])
    return metrics


def group_counts(meta_csv: str) -> Dict[str, int]:
    """Number of samples per ``corrupted`` group of a split's metadata."""
    counts: Dict[str, int] = {}
    with open(meta_csv, newline='') as handle:
        for row in csv.DictReader(handle):
            counts[row['corrupted']] = counts.get(row['corrupted'], 0) + 1
    return counts


def correlations_from_groups(test: Dict[str, float],
                             counts: Dict[str, int]) -> Dict[str, float]:
    """The correlations of :func:`quality_metrics` from group means.

    For a 0/1 quality, Pearson's r is the point-biserial coefficient
    (m_1 - m_0) sqrt(p (1 - p)) / s: m_1 and m_0 the mean visual share
    where the modality is clean and where it is corrupted, p the clean
    fraction, s the population std of the share over all samples
    (``attn/visual_std`` of ``AttentionShareMetric``). It gives the
    correlations of runs recorded before :func:`quality_metrics` computed
    them, from their ``quality/<group>/attn_visual`` and the split's group
    sizes.

    Args:
        test (dict): A run's test metrics.
        counts (dict): Samples per group of its test split
            (:func:`group_counts`).

    Returns:
        dict: The :data:`QUALITY_CORRELATIONS` keys computable from
        ``test`` (none without an attention share, without a corrupted
        group of that modality, or if ``test`` has a group ``counts`` has
        not).
    """
    means = {g: test.get(f'quality/{g}/attn_visual') for g in counts}
    std = test.get('attn/visual_std')
    recorded = {key.split('/')[1] for key in test
                if key.startswith('quality/') and key.endswith('/attn_visual')}
    if std is None or not std > 0 or None in means.values() or \
            recorded != set(counts):
        return {}
    total = sum(counts.values())
    result = {}
    for modality, key in QUALITY_CORRELATIONS.items():
        clean = [g for g in counts if g != modality]
        clean_count = sum(counts[g] for g in clean)
        if modality not in counts or clean_count == 0:
            continue
        clean_mean = sum(counts[g] * means[g] for g in clean) / clean_count
        p = clean_count / total
        result[key] = ((clean_mean - means[modality]) *
                       math.sqrt(p * (1 - p)) / std)
    return result


def read_test_metrics(work_dir: str) -> Dict[str, float]:
    """Metrics that ``tools/test.py`` logged in ``<work_dir>/<time>/*.json``.

    Args:
        work_dir (str): The test run's work dir.

    Returns:
        dict: Metric name -> value.
    """
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if not files:
        raise FileNotFoundError(f'{work_dir}: no test metrics json')
    with open(files[-1]) as handle:
        lines = [line for line in handle if line.strip()]
    metrics = json.loads(lines[-1])
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and '/' in k}


def run_schedule(methods: Sequence[str], seeds: Sequence[int],
                 warm_start: bool = False) -> List[tuple]:
    """(seed, method) pairs: methods interleaved, order rotated per seed.

    Args:
        methods (Sequence[str]): The methods.
        seeds (Sequence[int]): The seeds.
        warm_start (bool): Run each seed's unimodal tower runs
            (:data:`TOWER_METHODS`) first, the other methods after them.

    Returns:
        list[tuple]: The runs in execution order.
    """
    towers = list(TOWER_METHODS.values()) if warm_start else []
    methods = [m for m in methods if m not in towers]
    runs = []
    for index, seed in enumerate(seeds):
        shift = index % len(methods) if methods else 0
        order = list(methods[shift:]) + list(methods[:shift])
        runs.extend((seed, method) for method in towers + order)
    return runs


def warm_start_options(checkpoints: Dict[str, str]) -> Dict[str, str]:
    """Config overrides that load each tower from a unimodal checkpoint.

    Each modality's backbone gets mmengine's ``Pretrained`` initialisation
    from the recognizer checkpoint of a run that trained that tower alone,
    taking the keys under ``encoders.<modality>.``; the tokenizers, the
    fusion head and its probes start as usual.

    Args:
        checkpoints (dict): Modality -> checkpoint file.

    Returns:
        dict: ``model.modalities.<m>.backbone.init_cfg.*`` overrides.
    """
    options = {}
    for modality, checkpoint in checkpoints.items():
        key = f'model.modalities.{modality}.backbone.init_cfg'
        options[f'{key}.type'] = 'Pretrained'
        options[f'{key}.checkpoint'] = checkpoint
        options[f'{key}.prefix'] = f'encoders.{modality}.'
    return options


#: Summary rows: (key, column title, getter of a record's value or None).
COLUMNS = (
    ('val_fused', 'val fused top-1', lambda r: r.val['fused']),
    ('test_fused', 'test fused top-1', lambda r: r.test.get('acc/fused_top1')),
    ('test_audio_probe', 'test audio probe',
     lambda r: r.test.get('acc/audio_top1')),
    ('test_visual_probe', 'test visual probe',
     lambda r: r.test.get('acc/visual_top1')),
    ('final_abs_air', 'final abs AIR (train)',
     lambda r: None if r.final_air is None else abs(r.final_air)),
    ('final_attn_audio', 'attn audio (train)',
     lambda r: r.final_attn.get('audio')),
    ('final_attn_visual', 'attn visual (train)',
     lambda r: r.final_attn.get('visual')),
    ('test_air', 'test AIR', lambda r: r.test.get('attn/air')),
    ('test_attn_visual', 'test attn visual',
     lambda r: r.test.get('attn/visual_mean')),
    *((f'test_fused_{group}', f'test fused top-1, {name}',
       lambda r, g=group: r.test.get(f'quality/{g}/fused_top1'))
      for group, name in QUALITY_GROUPS.items()),
    *((f'test_attn_visual_{group}', f'test attn visual, {name}',
       lambda r, g=group: r.test.get(f'quality/{g}/attn_visual'))
      for group, name in QUALITY_GROUPS.items()),
    ('test_r_image', 'test r(attn visual, image quality)',
     lambda r: r.test.get(QUALITY_CORRELATIONS['visual'])),
    ('test_r_audio', 'test r(attn visual, audio quality)',
     lambda r: r.test.get(QUALITY_CORRELATIONS['audio'])),
    ('test_drop_audio', 'test drop w/o audio',
     lambda r: r.test.get('contrib/audio_drop')),
    ('test_drop_visual', 'test drop w/o visual',
     lambda r: r.test.get('contrib/visual_drop')),
    ('rotations', 'rotations',
     lambda r: None if r.final_air is None else len(r.rotation_epochs)),
    ('wall_s', 'wall s / run', lambda r: r.wall_s),
    ('cpu_s', 'CPU s / run', lambda r: r.cpu_s),
)


def summarise(records: Sequence[RunRecord],
              ratios: bool = True) -> Dict[str, dict]:
    """Mean ± std per method of every column; the time ratios.

    Args:
        records (Sequence[RunRecord]): All runs.
        ratios (bool): Add the time ratios to vanilla (only meaningful for
            runs made side by side, in one invocation).

    Returns:
        dict: ``{method: {column: {mean, std, n}}}`` for the columns that
        have values, plus ``'wall_ratio_<method>_vs_vanilla'`` and
        ``'cpu_ratio_<method>_vs_vanilla'`` (mean time of the method over
        mean time of vanilla) for every other fusion method when vanilla
        ran.
    """
    summary: Dict[str, dict] = runs_table({
        method: [{key: getter(r) for key, _, getter in COLUMNS}
                 for r in records if r.method == method]
        for method in column_order(records)
    })
    if ratios and 'vanilla' in summary:
        for method in ratio_methods(summary):
            for key in ('wall', 'cpu'):
                summary[f'{key}_ratio_{method}_vs_vanilla'] = (
                    summary[method][f'{key}_s']['mean'] /
                    summary['vanilla'][f'{key}_s']['mean'])
    return summary


def column_order(records: Sequence[RunRecord]) -> List[str]:
    """The methods of ``records`` in :data:`METHODS` order, each followed
    by its labelled variants (``LABEL/method``) in order of appearance."""
    present = list(dict.fromkeys(r.method for r in records))
    return [name for method in METHODS for name in present
            if name.rpartition('/')[2] == method]


def ratio_methods(summary: Dict[str, dict]) -> List[str]:
    """The fusion methods of ``summary`` timed against vanilla."""
    towers = set(TOWER_METHODS.values())
    return [m for m in METHODS
            if m in summary and m != 'vanilla' and m not in towers]


#: The time columns (left out of tables of several invocations).
TIME_COLUMNS = ('wall_s', 'cpu_s')


def format_table(summary: Dict[str, dict], times: bool = True) -> str:
    """A markdown table: one column per method, mean ± std per row.

    Args:
        summary (dict): The output of :func:`summarise`.
        times (bool): Include the wall and CPU time rows.

    Returns:
        str: The table, and the time ratio lines when present.
    """
    methods = [m for m in summary if isinstance(summary[m], dict)]
    lines = ['| | ' + ' | '.join(f'{m} (n={num_runs(summary[m])})'
                                 for m in methods) +
             ' |', '|---' * (len(methods) + 1) + '|']
    for key, title, _ in COLUMNS:
        if not any(key in summary[m] for m in methods) or (
                key in TIME_COLUMNS and not times):
            continue
        digits = 0 if key in TIME_COLUMNS else (
            1 if key == 'rotations' else 3)
        cells = []
        for method in methods:
            stats = summary[method].get(key)
            cells.append('-' if stats is None else
                         format_mean_std(stats, f'.{digits}f'))
        lines.append(f'| {title} | ' + ' | '.join(cells) + ' |')
    ratios = [m for m in ratio_methods(summary)
              if f'wall_ratio_{m}_vs_vanilla' in summary]
    if ratios:
        lines.append('')
    for method in ratios:
        for key in ('wall', 'CPU'):
            ratio = summary[f'{key.lower()}_ratio_{method}_vs_vanilla']
            target = ' (target <= 1.02)' if method == 'rollingq' else ''
            lines.append(f'{method} {key} time / vanilla {key} time: '
                         f'{ratio:.3f}{target}')
    return '\n'.join(lines)


def write_results(records: Sequence[RunRecord], out_dir: str,
                  command: str, ratios: bool = True) -> str:
    """Write runs.json, runs.csv, summary.json and results.md.

    Args:
        records (Sequence[RunRecord]): All runs so far.
        out_dir (str): The output folder.
        command (str): The command line, quoted in results.md.
        ratios (bool): See :func:`summarise`; without them the table has
            no time rows either (runs.json and summary.json keep the times).

    Returns:
        str: The markdown table.
    """
    summary = summarise(records, ratios)
    table = format_table(summary, times=ratios)
    with open(osp.join(out_dir, 'runs.json'), 'w') as handle:
        json.dump([asdict(r) for r in records], handle, indent=1)
    with open(osp.join(out_dir, 'summary.json'), 'w') as handle:
        json.dump(summary, handle, indent=1)
    with open(osp.join(out_dir, 'runs.csv'), 'w', newline='') as handle:
        writer = csv.writer(handle)
        writer.writerow(['method', 'seed', 'best_epoch'] +
                        [key for key, _, _ in COLUMNS])
        for record in records:
            writer.writerow([record.method, record.seed, record.best_epoch] +
                            [getter(record) for _, _, getter in COLUMNS])
    with open(osp.join(out_dir, 'results.md'), 'w') as handle:
        handle.write(f'Command: `{command}`\n\n{table}\n')
    return table


def load_records(files: Sequence[str],
                 methods: Optional[Sequence[str]] = None) -> List[RunRecord]:
    """The run records of earlier invocations' ``runs.json`` files.

    Args:
        files (Sequence[str]): ``runs.json`` files, each as ``PATH`` or
            ``LABEL=PATH`` (its records' methods become ``LABEL/method``).
        methods (Sequence[str], optional): Keep only these methods (as
            the files name them, before labelling).

    A (method, seed) run in two invocations is kept once, from the first
    file: training is deterministic per seed, so both runs must have the
    same best epoch, validation metrics and the test metrics both measured
    (their times differ); test metrics only the later run has (added to
    the benchmark since) are added to the kept record.

    Returns:
        list[RunRecord]: In file order.

    Raises:
        ValueError: A (method, seed) found twice with different results,
            naming both files.
    """
    records: Dict[Tuple[str, int], RunRecord] = {}
    origin: Dict[Tuple[str, int], str] = {}
    for spec in files:
        label, _, path = spec.rpartition('=')
        with open(path) as handle:
            entries = json.load(handle)
        for entry in entries:
            record = RunRecord(**entry)
            if methods is not None and record.method not in methods:
                continue
            if label:
                record.method = f'{label}/{record.method}'
            key = (record.method, record.seed)
            if key not in records:
                records[key] = record
                origin[key] = path
                continue
            first = records[key]
            shared = set(first.test) & set(record.test)
            if (first.best_epoch, first.val) != (
                    record.best_epoch, record.val) or any(
                        first.test[k] != record.test[k] for k in shared):
                raise ValueError(
                    f'{record.method} seed {record.seed} differs between '
                    f'{origin[key]} (best epoch {first.best_epoch}, val '
                    f'{first.val}) and {path} (best epoch '
                    f'{record.best_epoch}, val {record.val}) or in its test '
                    'metrics: the runs are not the same training')
            first.test = {**record.test, **first.test}
    return list(records.values())


def main(argv: Optional[Sequence[str]] = None) -> List[RunRecord]:
    """Train and test every (seed, method); print and write the table."""
    args = parse_args(argv)
    out_dir = osp.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    command = ' '.join(['python', 'benchmarks/avdigits_benchmark.py'] +
                       (sys.argv[1:] if argv is None else list(argv)))
    if args.from_runs:
        records = load_records(args.from_runs, args.methods)
        counts = group_counts(osp.join(
            args.data_root or osp.join(REPO, 'data', 'avdigits'),
            'test_meta.csv'))
        for record in records:
            missing = correlations_from_groups(record.test, counts)
            record.test.update({k: v for k, v in missing.items()
                                if k not in record.test})
        table = write_results(records, out_dir, command, ratios=False)
        print(f'AV-Digits, the runs of {", ".join(args.from_runs)} (results '
              f'in {out_dir}):\n\n{table}', flush=True)
        return records
    schedule = run_schedule(args.methods, args.seeds, args.warm_start)
    towers = set(TOWER_METHODS.values())
    tower_checkpoints: Dict[int, Dict[str, str]] = {}
    records: List[RunRecord] = []
    start = time.perf_counter()
    for index, (seed, method) in enumerate(schedule):
        config = f'configs/{method}_avdigits.py'
        run_options = dict(args.cfg_options)
        if args.warm_start and method not in towers:
            run_options.update(warm_start_options(tower_checkpoints[seed]))
        work_dir = osp.join(out_dir, method, f'seed{seed}')
        if glob.glob(osp.join(work_dir, '*.pth')):
            raise FileExistsError(
                f'{work_dir} holds checkpoints of an earlier run: choose '
                'another --out-dir or delete it')
        os.makedirs(work_dir, exist_ok=True)
        print(f'[{index + 1}/{len(schedule)}] {method} seed {seed}: '
              f'training ({work_dir})', flush=True)
        train = [sys.executable, 'tools/train.py', config, '--work-dir',
                 work_dir, '--seed', str(seed)]
        if run_options:
            train += ['--cfg-options'] + [
                f'{k}={v}' for k, v in run_options.items()]
        wall, cpu = run_command(train, env, osp.join(work_dir, 'train.log'),
                                f'training {method} seed {seed}')
        record = read_training(work_dir, method, seed, wall, cpu)
        if args.warm_start and method in towers:
            modality = next(m for m, t in TOWER_METHODS.items()
                            if t == method)
            tower_checkpoints.setdefault(seed, {})[modality] = (
                find_checkpoint(work_dir, BEST_CKPT_PATTERN))
        if not args.no_test:
            test_dir = osp.join(work_dir, 'test')
            os.makedirs(test_dir, exist_ok=True)
            test_config = write_test_config(
                config, args.cfg_options,
                osp.join(work_dir, f'test_{method}_avdigits.py'))
            predictions = osp.join(test_dir, 'predictions.pkl')
            run_command([sys.executable, 'tools/test.py', test_config,
                         find_checkpoint(work_dir, BEST_CKPT_PATTERN),
                         '--work-dir', test_dir, '--tta',
                         '--dump', predictions],
                        env, osp.join(test_dir, 'test.log'),
                        f'testing {method} seed {seed}')
            record.test = read_test_metrics(test_dir)
            ann_file = Config.fromfile(
                test_config).test_dataloader.dataset.ann_file
            record.test.update(quality_metrics(
                predictions,
                osp.join(REPO, osp.splitext(ann_file)[0] + '_meta.csv')))
        records.append(record)
        write_results(records, out_dir, command)
        elapsed = time.perf_counter() - start
        eta = elapsed / (index + 1) * (len(schedule) - index - 1)
        fused = record.test.get('acc/fused_top1')
        print(f'[{index + 1}/{len(schedule)}] {method} seed {seed}: '
              f'{wall:.0f} s ({cpu:.0f} s CPU), best val fused '
              f'{record.val["fused"]:.3f} (epoch {record.best_epoch})' +
              ('' if fused is None else f', test fused {fused:.3f}') +
              (f', final AIR {record.final_air:+.3f}'
               if record.final_air is not None else '') +
              f'; elapsed {elapsed / 60:.1f} min, eta {eta / 60:.1f} min',
              flush=True)
    table = write_results(records, out_dir, command)
    print(f'\nAV-Digits, {len(args.seeds)} seeds, best validation checkpoint '
          f'{"on validation only" if args.no_test else "evaluated on test"}'
          f' (results in {out_dir}):\n\n{table}', flush=True)
    return records


if __name__ == '__main__':
    main()
