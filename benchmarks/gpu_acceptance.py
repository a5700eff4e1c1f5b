"""GPU acceptance check of ``configs/rollingq_ks.py``: one command, one GPU.

    python benchmarks/gpu_acceptance.py [--out work_dirs/gpu_acceptance]

needs one CUDA device; it is sized for 4-5 minutes (budget: 8; not yet
measured on a GPU; the time of each phase is printed and saved). It runs
the paper's full-size model (two 4-layer ViT-B/16 towers, fbank of 128
mel bins x 1024 frames, 3 frames of 224 x 224, ``RollingQFusionHead``)
through the project's real
``tools/train.py``, in subprocesses, and uses nothing but its command line
(``--work-dir --seed --deterministic --amp --resume auto --cfg-options``)
and config keys:

1. **data**: synthetic clips in the prepared Kinetics-Sounds layout that
   ``configs/_base_/datasets/kinetics_sounds.py`` reads
   (``docs/data_preparation.md``), written by a process pool:
   ``frames/<id>/img_00001.jpg ...`` (real JPEGs at 1 fps, 10 s, 320 x 240),
   ``audio/<id>.wav`` (10 s of 16-bit mono PCM at 44.1 kHz: a tone whose
   pitch follows the label, plus noise) and generic ``train.txt`` /
   ``val.txt`` / ``test.txt`` (the preparation tools' writer); labels cycle
   over the 31 classes of ``kinetics_sounds_31``. One sample is loaded
   through the real ``AudioVisualDataset`` pipeline and compared with the
   shapes the benchmark's synthetic batches have.
2. **training**: every run overrides only the towers' ``init_cfg`` (None:
   no pretrained file), the data root, batch 16 per GPU (the paper's 64 on
   4 GPUs), 8 loader workers, 4 epochs of 50 iterations, logging every 5
   iterations and ``AIRHook(air_threshold=0, begin_epoch=1, interval=1)``,
   so every epoch end rotates until the config's ``max_rotations`` (3).
   Three runs, ``--seed 0``:

   * ``fp32``: fp32, ``--deterministic`` (``CUBLAS_WORKSPACE_CONFIG`` set),
     uninterrupted: the reference;
   * ``killed``: the same command, its process group (trainer and loader
     workers) SIGKILLed once ``epoch_2.pth`` is complete and an iteration
     of epoch 3 is logged, then rerun with ``--resume auto``;
   * ``amp``: ``--amp`` (``AmpOptimWrapper``: fp16 autocast, dynamic loss
     scale). Skipped on CPU, where mmengine refuses ``AmpOptimWrapper``.

   Two runs share the machine at a time (``fp32`` with ``killed``, then
   the resume with ``amp``): the runs are bound by data loading (the
   44.1 kHz fbank of a 10 s clip took 70-85 ms on one core of the 2-core
   development machine), so pairing them costs little wall time; the
   benchmark of step 4 runs alone.
3. **checks**: each run ends with exit status 0, all epochs, finite losses
   and the expected rotation count in ``scalars.json``; the killed run died
   by SIGKILL in epoch 3 with ``epoch_2.pth`` complete and 2 rotations in
   it; the resumed run starts at epoch 3, continues the count (3 after
   epoch 3) and finishes. Because the reference is the same deterministic
   run, the resumed run must end **bit-identical** to it: every tensor of
   the final checkpoint's ``state_dict`` and optimizer state, and the loss
   of every iteration in the message hub (hence the losses logged at the
   first iterations of the resumed epoch). Deterministic algorithms make
   the pair slower than free-running fp32 (no faster cuBLAS / attention
   kernels), which the budget allows; the weaker check (the logged losses
   only) would miss optimizer state or buffers that have not reached the
   loss yet. The detail also says whether the two runs' losses already
   differed before the kill, which points at nondeterminism (or code
   changed between their starts) rather than at the resume.
4. **performance**: ``bench_train_step.run_benchmark`` (fp32, bf16, fp16,
   batch 16, the device alone): samples/s, peak GPU memory, the fusion
   head's share of a step and the model FLOPs utilisation against the
   device's dense peak; plus the training runs' samples/s and peak memory
   from their logs (two runs sharing the device).

The result is a PASS/FAIL line per check, ``summary.json`` and the runs'
logs and work dirs under ``--out``; the exit status is 1 when a check
fails. Without CUDA the full check refuses to run. ``--tiny`` (CPU
allowed) runs the same logic on one 32-wide layer per tower, 32 x 32
frames, 64 fbank frames, 3 s clips, 16 training clips of batch 2, 3 epochs
and one loader worker: the test of this script
(``tests/test_benchmarks/test_gpu_acceptance.py``).
"""
import argparse
import json
import math
import multiprocessing
import os
import os.path as osp
import re
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import bench_train_step as bench
import cv2
import numpy as np
import soundfile
import torch
from mmaction.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope

from rollingq_mm.compat import (is_complete_checkpoint, safe_torch_load,
                                trusted_checkpoint_loading)
from rollingq_mm.datasets import resolve_classes
from rollingq_mm.datasets.preparation import (FRAME_TEMPLATE, ClipResult,
                                              audio_file, frame_dir,
                                              write_split_files)
from rollingq_mm.datasets.preparation.extraction_runner import \
    single_threaded_worker
from rollingq_mm.keys import SCALAR_PREFIX
from rollingq_mm.visualization.training_curves import find_scalars_files

REPO = Path(__file__).resolve().parents[1]
TRAIN = str(REPO / 'tools' / 'train.py')
#: Sizes of the two modes (``--tiny`` or not).
MODES = dict(
    full=dict(train_clips=800, val_clips=64, batch_size=16, workers=8,
              epochs=4, log_interval=5, seconds=10, frame_size=(320, 240),
              sample_rate=44100, bench_precisions=['fp32', 'bf16', 'fp16'],
              bench_steps=10, bench_warmup=3, timeout=480),
    tiny=dict(train_clips=16, val_clips=4, batch_size=2, workers=1,
              epochs=3, log_interval=1, seconds=3, frame_size=(64, 48),
              sample_rate=22050, bench_precisions=['fp32', 'bf16'],
              bench_steps=2, bench_warmup=1, timeout=240),
)
KILL_EPOCH = 3
#: Characters that mmengine's DictAction removes or splits at.
UNSAFE_OPTION_CHARS = ' \t\n,()[]\'"'
TRAIN_LINE = re.compile(r'Epoch\(train\)\s*\[(\d+)\]\[\s*(\d+)/(\d+)\]')


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/gpu_acceptance',
                        help='folder for the data, runs and summary.json')
    parser.add_argument('--config', default=bench.DEFAULT_CONFIG)
    parser.add_argument('--tiny', action='store_true',
                        help='shrunk model and data, CPU allowed (a test '
                        'of this script)')
    parser.add_argument('--device', default='cuda', choices=['cuda', 'cpu'])
    parser.add_argument('--writer-processes', type=int,
                        default=os.cpu_count() or 1,
                        help='processes writing the synthetic clips')
    args = parser.parse_args(argv)
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('no CUDA device: torch.cuda.is_available() is False. '
                     'This check is meant for a machine with one CUDA GPU; '
                     '--tiny --device cpu runs its logic on CPU.')
    if args.device == 'cpu' and not args.tiny:
        parser.error('the full-size check needs CUDA; use --tiny for CPU')
    try:
        format_option(osp.abspath(args.out))
    except ValueError as error:
        parser.error(f'--out: {error}')
    args.sizes = MODES['tiny' if args.tiny else 'full']
    return args


def elapsed(start: float) -> str:
    """``[  12.3 s]``: seconds since ``start``."""
    return f'[{time.perf_counter() - start:7.1f} s]'


# ---------------------------------------------------------------- data
@dataclass
class SyntheticClip:
    """One clip to write (see :func:`write_clip`)."""

    clip_id: str
    label: int
    root: str
    seconds: int
    frame_size: Tuple[int, int]
    sample_rate: int
    seed: int


def write_clip(clip: SyntheticClip) -> ClipResult:
    """Write the 1-fps JPEG frames and the wav of one synthetic clip.

    Frames: a colour that depends on the label, a moving gradient and
    noise. Audio: a tone at 220 Hz * 2^(label / 12) and noise, 16-bit PCM.

    Args:
        clip (SyntheticClip): What to write.

    Returns:
        ClipResult: ``'done'``.
    """
    rng = np.random.default_rng(clip.seed)
    width, height = clip.frame_size
    folder = frame_dir(clip.root, clip.clip_id)
    os.makedirs(folder, exist_ok=True)
    colour = np.array([(37 * clip.label) % 256, (91 * clip.label) % 256,
                       (53 * clip.label + 128) % 256], dtype=np.float32)
    ramp = np.linspace(0, 64, width, dtype=np.float32)[None, :, None]
    for number in range(1, clip.seconds + 1):
        image = colour + np.roll(ramp, 16 * number, axis=1) + rng.normal(
            0, 12, (height, width, 3)).astype(np.float32)
        image = np.clip(image, 0, 255).astype(np.uint8)
        path = osp.join(folder, FRAME_TEMPLATE.format(number))
        if not cv2.imwrite(path, image, [cv2.IMWRITE_JPEG_QUALITY, 90]):
            raise OSError(f'cannot write {path}')
    times = np.arange(clip.seconds * clip.sample_rate) / clip.sample_rate
    pitch = 220.0 * 2**(clip.label / 12)
    wave = 0.3 * np.sin(2 * np.pi * pitch * times) + rng.normal(
        0, 0.05, times.shape)
    wav = audio_file(clip.root, clip.clip_id)
    os.makedirs(osp.dirname(wav), exist_ok=True)
    soundfile.write(wav, wave.astype(np.float32), clip.sample_rate,
                    subtype='PCM_16', format='WAV')
    return ClipResult(clip.clip_id, 'done')


def write_dataset(root: str, train_clips: int, val_clips: int,
                  num_classes: int, seconds: int, frame_size: Tuple[int,
                                                                    int],
                  sample_rate: int, processes: int) -> Dict[str, int]:
    """Write a synthetic Kinetics-Sounds-layout dataset under ``root``.

    Clip ``i`` of a split has label ``i % num_classes``. ``test.txt``
    lists the validation clips.

    Args:
        root (str): The dataset folder (created; existing clips are
            overwritten).
        train_clips (int): Training clips.
        val_clips (int): Validation clips.
        num_classes (int): Number of classes.
        seconds (int): Clip length (one frame per second).
        frame_size (tuple[int, int]): Frame width and height.
        sample_rate (int): Audio sample rate in Hz.
        processes (int): Writer processes.

    Returns:
        dict: Split name -> number of clips.
    """
    splits = {
        'train': [(f'train_{i:05d}', i % num_classes)
                  for i in range(train_clips)],
        'val': [(f'val_{i:05d}', i % num_classes) for i in range(val_clips)],
    }
    clips = [
        SyntheticClip(clip_id, label, root, seconds, tuple(frame_size),
                      sample_rate, seed)
        for seed, (clip_id, label) in enumerate(splits['train'] +
                                                splits['val'])
    ]
    # Fork: the workers need no re-import; one thread each.
    with ProcessPoolExecutor(
            max_workers=max(1, min(processes, len(clips))),
            mp_context=multiprocessing.get_context('fork'),
            initializer=single_threaded_worker) as pool:
        results = {r.clip_id: r for r in pool.map(write_clip, clips,
                                                  chunksize=8)}
    splits['test'] = splits['val']
    for split, labels in splits.items():
        write_split_files(root, split, labels,
                          [results[clip_id] for clip_id, _ in labels],
                          with_features=False)
    return {split: len(labels) for split, labels in splits.items()}


def compare_with_synthetic_batch(cfg: Config) -> Tuple[bool, str]:
    """Load training sample 0 through the config's dataset and pipeline and
    compare its inputs with :func:`bench_train_step.synthetic_batch`.

    Returns:
        tuple: (same keys, shapes and dtypes; a description).
    """
    init_default_scope(cfg.get('default_scope', 'mmaction'))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    sample = dataset[0]
    synthetic = bench.synthetic_batch(cfg, 1)
    real = {k: (tuple(v.shape), str(v.dtype))
            for k, v in sample['inputs'].items()}
    fake = {k: (tuple(v[0].shape), str(v[0].dtype))
            for k, v in synthetic['inputs'].items()}
    label = int(sample['data_samples'].gt_label)
    same = real == fake and label == int(dataset.get_data_info(0)['label'])
    return same, (f'{len(dataset)} training clips; sample 0: {real}, label '
                  f'{label}; synthetic batch: {fake}')


# ------------------------------------------------------------ training
def format_option(value: Any) -> str:
    """A value as ``--cfg-options key=value`` (mmengine's DictAction)
    parses it back.

    Raises:
        ValueError: a string that DictAction would change (it drops
            whitespace and quotes, splits at commas and brackets).
    """
    if isinstance(value, tuple):
        return '(' + ','.join(format_option(v) for v in value) + ')'
    if isinstance(value, list):
        return '[' + ','.join(format_option(v) for v in value) + ']'
    text = str(value)
    if isinstance(value, str) and set(text) & set(UNSAFE_OPTION_CHARS):
        raise ValueError(f'{text!r} cannot pass through --cfg-options '
                         f'(none of {UNSAFE_OPTION_CHARS!r} allowed)')
    return text


def air_hook_index(cfg: Config) -> int:
    """Index of the config's AIRHook in ``custom_hooks``."""
    for index, hook in enumerate(cfg.get('custom_hooks', [])):
        if hook.get('type') == 'AIRHook':
            return index
    raise ValueError('the config has no AIRHook in custom_hooks')


def run_options(cfg: Config, data_root: str, sizes: Dict[str, Any],
                tiny: bool) -> Dict[str, Any]:
    """The config overrides of every training run (dotted keys).

    Args:
        cfg (Config): The loaded config (read, not changed).
        data_root (str): The synthetic dataset.
        sizes (dict): One of :data:`MODES`.
        tiny (bool): Shrink the model (:func:`bench_train_step.
            model_overrides`).

    Returns:
        dict: Dotted key -> value.
    """
    options = bench.model_overrides(cfg, tiny)
    for split in ('train', 'val', 'test'):
        loader = f'{split}_dataloader'
        options[f'{loader}.dataset.ann_file'] = osp.join(data_root,
                                                         f'{split}.txt')
        options[f'{loader}.dataset.data_prefix.video'] = data_root
        options[f'{loader}.dataset.data_prefix.audio'] = data_root
        options[f'{loader}.batch_size'] = sizes['batch_size']
        options[f'{loader}.num_workers'] = sizes['workers']
        options[f'{loader}.persistent_workers'] = sizes['workers'] > 0
    hook = f'custom_hooks.{air_hook_index(cfg)}'
    options[f'{hook}.air_threshold'] = 0.0
    options[f'{hook}.begin_epoch'] = 1
    options[f'{hook}.interval'] = 1
    options['train_cfg.max_epochs'] = sizes['epochs']
    options['default_hooks.logger.interval'] = sizes['log_interval']
    return options


def train_command(config: str, work_dir: str, options: Dict[str, Any],
                  *flags: str) -> List[str]:
    """``tools/train.py`` with ``--seed 0``, ``flags`` and the options."""
    return [sys.executable, TRAIN, config, '--work-dir', work_dir,
            '--seed', '0', *flags, '--cfg-options'] + [
                f'{key}={format_option(value)}'
                for key, value in options.items()
            ]


class TrainingRun:
    """A ``tools/train.py`` subprocess in its own process group.

    Args:
        name (str): The run's name (its work dir is ``<runs>/<name>``).
        command (list[str]): The command line.
        log_file (str): Where stdout and stderr go.
        env (dict): Its environment.
    """

    def __init__(self, name: str, command: List[str], log_file: str,
                 env: Dict[str, str]) -> None:
        self.name = name
        self.log_file = log_file
        self.start = time.perf_counter()
        self.wall_s: Optional[float] = None
        with open(log_file, 'w') as handle:
            handle.write(' '.join(command) + '\n')
            self.process = subprocess.Popen(
                command, cwd=str(REPO), env=env, stdout=handle,
                stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        """What the run has printed so far."""
        with open(self.log_file, errors='replace') as handle:
            return handle.read()

    def kill(self) -> None:
        """SIGKILL the trainer and its loader workers."""
        os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> int:
        """The exit status; the run is killed after ``timeout`` seconds
        (status -9)."""
        try:
            self.process.wait(max(timeout - (time.perf_counter() -
                                             self.start), 1.0))
        except subprocess.TimeoutExpired:
            self.kill()
            self.process.wait()
        self.wall_s = time.perf_counter() - self.start
        return self.process.returncode


def kill_mid_epoch(run: TrainingRun, work_dir: str, epoch: int,
                   timeout: float) -> Dict[str, Any]:
    """SIGKILL ``run`` once ``epoch_<epoch - 1>.pth`` is its complete last
    checkpoint and an iteration of ``epoch`` is logged.

    Returns:
        dict: ``killed`` (bool), ``at`` (the last logged iteration),
        ``checkpoint`` (what ``last_checkpoint`` named at the kill).
    """
    wanted = f'epoch_{epoch - 1}.pth'
    record = osp.join(work_dir, 'last_checkpoint')
    while run.process.poll() is None:
        if time.perf_counter() - run.start > timeout:
            break
        named = ''
        if osp.isfile(record):
            with open(record) as handle:
                named = handle.read().strip()
        if named.endswith(wanted) and is_complete_checkpoint(named):
            lines = [m for m in TRAIN_LINE.finditer(run.log())
                     if int(m.group(1)) == epoch]
            if lines:
                run.kill()
                last = lines[-1]
                return dict(killed=True, checkpoint=named,
                            at=f'epoch {epoch} iter {last.group(2)}/'
                            f'{last.group(3)}')
        time.sleep(0.02)
    return dict(killed=False, checkpoint=None, at=None)


# ---------------------------------------------------------- read-outs
def read_scalars(work_dir: str) -> List[dict]:
    """Every record of the run's ``scalars.json`` files, oldest first
    (none when the run logged nothing)."""
    try:
        paths = find_scalars_files(work_dir)
    except FileNotFoundError:
        return []
    records = []
    for path in paths:
        with open(path) as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return records


def epoch_values(records: List[dict], key: str) -> Dict[int, float]:
    """An epoch scalar (AIRHook's, logged with ``step`` = epoch) per epoch;
    later records win."""
    return {int(r['step']): r[key] for r in records if key in r}


def train_values(records: List[dict], key: str) -> Dict[int, float]:
    """``key`` of the training records per iteration (later ones win)."""
    return {r['iter']: r[key] for r in records
            if key in r and 'iter' in r and 'lr' in r}


def load_checkpoint(path: str) -> dict:
    """A checkpoint that this script's own runs wrote, on CPU (trusted as
    ``--resume`` trusts it)."""
    with trusted_checkpoint_loading():
        return safe_torch_load(path, map_location='cpu')


def tensor_differences(actual: Any, expected: Any,
                       where: str = '') -> List[str]:
    """Where two nested dicts / lists of tensors and values differ."""
    if isinstance(expected, torch.Tensor):
        if not isinstance(actual, torch.Tensor) or \
                actual.shape != expected.shape or \
                not torch.equal(actual, expected):
            return [where]
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            return [f'{where} (keys)']
        return [d for key in expected for d in tensor_differences(
            actual[key], expected[key], f'{where}.{key}')]
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or \
                len(actual) != len(expected):
            return [f'{where} (length)']
        return [d for i, (a, e) in enumerate(zip(actual, expected))
                for d in tensor_differences(a, e, f'{where}[{i}]')]
    return [] if actual == expected else [where]


def history(checkpoint: dict, key: str) -> List[float]:
    """Every value of a message-hub scalar saved in a checkpoint."""
    return checkpoint['message_hub']['log_scalars'][key].data[0].tolist()


def training_figures(work_dir: str, batch_size: int) -> Dict[str, Any]:
    """Median iteration time, samples/s and peak memory from the logs."""
    records = read_scalars(work_dir)
    times = sorted(train_values(records, 'time').values())
    memory = train_values(records, 'memory')
    figures: Dict[str, Any] = dict(logged_iterations=len(times))
    if times:
        median = times[len(times) // 2]
        figures.update(seconds_per_iter=median,
                       samples_per_s=batch_size / median)
    if memory:
        figures['peak_memory_mib'] = max(memory.values())
    return figures


# -------------------------------------------------------------- checks
def last_error(log: str) -> str:
    """The last line of a log that names an error, else its last line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if 'Error' in line]
    return (errors or lines or ['empty log'])[-1][:300]


class Checks:
    """PASS / FAIL / SKIP results with a one-line detail each."""

    def __init__(self) -> None:
        self.results: Dict[str, Dict[str, str]] = {}

    def add(self, name: str, passed: Optional[bool], detail: str) -> None:
        """Record a check (``passed=None``: skipped) and print it."""
        status = 'skipped' if passed is None else (
            'pass' if passed else 'fail')
        self.results[name] = dict(status=status, detail=detail)
        print(f'{status.upper():7s} {name}: {detail}', flush=True)

    @property
    def passed(self) -> bool:
        """No check failed."""
        return all(r['status'] != 'fail' for r in self.results.values())


def check_run(checks: Checks, name: str, run: TrainingRun, status: int,
              work_dir: str, epochs: int, expected_rotations: List[int],
              extra: str = '') -> None:
    """Exit 0, the last epoch's checkpoint, finite losses, the rotation
    count of every epoch."""
    records = read_scalars(work_dir)
    losses = train_values(records, 'loss')
    rotations = epoch_values(records, SCALAR_PREFIX + 'num_rotations')
    got = [int(rotations.get(e, -1)) for e in range(1, epochs + 1)]
    finite = bool(losses) and all(math.isfinite(v) for v in losses.values())
    final = osp.isfile(osp.join(work_dir, f'epoch_{epochs}.pth'))
    passed = (status == 0 and final and finite and got == expected_rotations)
    error = '' if status == 0 else f' ({last_error(run.log())})'
    checks.add(name, passed,
               f'exit {status}{error}, epoch_{epochs}.pth '
               f'{"" if final else "NOT "}'
               f'written, {len(losses)} logged losses '
               f'{"finite" if finite else "NOT all finite"}, rotations per '
               f'epoch {got} (expected {expected_rotations}){extra}; '
               f'{run.wall_s:.0f} s; log {run.log_file}')


def check_resume(checks: Checks, kill: Dict[str, Any], killed_status: int,
                 killed_checkpoint: Optional[dict], resumed: TrainingRun,
                 resumed_status: int, work_dirs: Dict[str, str],
                 epochs: int, expected_rotations: List[int]) -> None:
    """The kill, the resumed run's start and count, and its final state
    against the uninterrupted reference."""
    saved = epoch = None
    expected_saved = expected_rotations[KILL_EPOCH - 2]
    if killed_checkpoint is not None:
        saved = int(killed_checkpoint['state_dict'][
            'fusion_head.num_rotations'])
        epoch = killed_checkpoint['meta']['epoch']
    checks.add(
        'kill', kill['killed'] and killed_status == -signal.SIGKILL and
        epoch == KILL_EPOCH - 1 and saved == expected_saved,
        f'SIGKILL at {kill["at"]} (exit {killed_status}); '
        f'last_checkpoint {kill["checkpoint"]} (epoch {epoch}, '
        f'{saved} rotations saved, expected {expected_saved})')

    log = resumed.log()
    started = sorted({int(m.group(1)) for m in TRAIN_LINE.finditer(log)})
    auto = re.search(r'Auto resumed from the latest checkpoint (\S+)', log)
    from_file = auto.group(1).rstrip('.') if auto else None
    records = read_scalars(work_dirs['killed'])
    rotations = epoch_values(records, SCALAR_PREFIX + 'num_rotations')
    carried = int(rotations.get(KILL_EPOCH, -1))
    error = '' if resumed_status == 0 else f' ({last_error(log)})'
    checks.add(
        'resume', resumed_status == 0 and bool(started) and
        started[0] == KILL_EPOCH and from_file is not None and
        from_file.endswith(f'epoch_{KILL_EPOCH - 1}.pth') and
        carried == expected_rotations[KILL_EPOCH - 1],
        f'exit {resumed_status}{error}; resumed from {from_file}; trained '
        f'epochs {started}; rotations after epoch {KILL_EPOCH}: {carried} '
        f'(expected {expected_rotations[KILL_EPOCH - 1]}, i.e. the count '
        f'was carried); {resumed.wall_s:.0f} s; log {resumed.log_file}')

    final = f'epoch_{epochs}.pth'
    paths = {name: osp.join(work_dirs[name], final)
             for name in ('fp32', 'killed')}
    missing = [path for path in paths.values() if not osp.isfile(path)]
    if missing:
        checks.add('resume_matches_reference', False, f'missing {missing}')
        return
    reference = load_checkpoint(paths['fp32'])
    continued = load_checkpoint(paths['killed'])
    differing = (tensor_differences(continued['state_dict'],
                                    reference['state_dict'], 'state_dict') +
                 tensor_differences(continued['optimizer'],
                                    reference['optimizer'], 'optimizer'))
    max_diff = max((float((continued['state_dict'][k].double() -
                           reference['state_dict'][k].double()).abs().max())
                    for k in set(reference['state_dict']) &
                    set(continued['state_dict'])
                    if reference['state_dict'][k].is_floating_point() and
                    reference['state_dict'][k].shape ==
                    continued['state_dict'][k].shape),
                   default=0.0)
    losses = history(reference, 'train/loss')
    resumed_losses = history(continued, 'train/loss')
    reference_records = read_scalars(work_dirs['fp32'])
    first_iters = epoch_losses(reference_records, records, KILL_EPOCH)
    before = [(i, a, b) for epoch in range(1, KILL_EPOCH)
              for i, a, b in epoch_losses(reference_records, records,
                                          epoch)]
    same_before = bool(before) and all(a == b for _, a, b in before)
    diagnosis = '' if same_before else (
        ' (the two runs differed BEFORE the kill: not deterministic, or the '
        'code changed between their starts)')
    checks.add(
        'resume_matches_reference',
        not differing and losses == resumed_losses and bool(first_iters) and
        all(a == b for _, a, b in first_iters),
        f'{final}: {len(differing)} differing state/optimizer entries '
        f'{differing[:3]}, max |param diff| {max_diff:.3g}; loss history '
        f'{"identical" if losses == resumed_losses else "DIFFERS"} over '
        f'{len(losses)} iterations; logged losses of epoch {KILL_EPOCH} '
        f'(iter, reference, resumed): {first_iters[:3]}; {len(before)} '
        f'logged losses before the kill '
        f'{"identical" if same_before else "DIFFER"}{diagnosis}')


def epoch_losses(reference: List[dict], resumed: List[dict],
                 epoch: int) -> List[Tuple[int, float, float]]:
    """Logged losses of ``epoch`` in both runs: (iter, reference, resumed)
    for the iterations both logged, in order."""
    def of_epoch(records: List[dict]) -> Dict[int, float]:
        return {r['iter']: r['loss'] for r in records
                if 'loss' in r and r.get('epoch') == epoch}

    ours, theirs = of_epoch(reference), of_epoch(resumed)
    return [(i, ours[i], theirs[i]) for i in sorted(set(ours) & set(theirs))]


def check_performance(checks: Checks, record: Dict[str, Any]) -> None:
    """Positive figures; MFU in (0, 1) on a known device; at full size the
    head takes less than the whole step (the tiny model's millisecond
    steps are too noisy for that)."""
    problems = []
    for name, r in record['results'].items():
        if not (r['samples_per_s'] > 0 and r['peak_mib'] > 0 and
                r['head_fraction'] > 0 and r['flops_per_step'] > 0):
            problems.append(name)
        if not record['tiny'] and not r['head_fraction'] < 1:
            problems.append(f'{name} head fraction')
        if r['peak_tflops'] is not None and not 0 < r['mfu'] < 1:
            problems.append(f'{name} MFU')
    parts = []
    for name, r in record['results'].items():
        mfu = ('unknown device' if r['mfu'] is None else
               f'MFU {100 * r["mfu"]:.1f}% of {r["peak_tflops"]} TFLOP/s')
        parts.append(f'{name} {r["samples_per_s"]:.1f} samples/s, peak '
                     f'{r["peak_mib"]:.0f} MiB, head '
                     f'{100 * r["head_fraction"]:.2f}%, {mfu}')
    checks.add('performance', not problems,
               '; '.join(parts) + (f'; bad: {problems}' if problems else ''))


# ---------------------------------------------------------------- main
def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the check; return the exit status (0: every check passed)."""
    args = parse_args(argv)
    sizes = args.sizes
    start = time.perf_counter()
    out = osp.abspath(args.out)
    data_root, runs_root = osp.join(out, 'data'), osp.join(out, 'runs')
    for folder in (data_root, runs_root):
        shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(runs_root)
    checks = Checks()
    summary: Dict[str, Any] = dict(
        mode='tiny' if args.tiny else 'full', device=args.device,
        config=args.config, out=out, sizes=sizes, phases={})

    cfg = bench.load_config(args.config, args.tiny)
    classes = resolve_classes(cfg.train_dataloader.dataset.metainfo.classes)
    print(f'{elapsed(start)} writing {sizes["train_clips"]} + '
          f'{sizes["val_clips"]} synthetic clips to {data_root}', flush=True)
    counts = write_dataset(data_root, sizes['train_clips'],
                           sizes['val_clips'], len(classes),
                           sizes['seconds'], sizes['frame_size'],
                           sizes['sample_rate'], args.writer_processes)
    summary['phases']['data_s'] = time.perf_counter() - start
    options = run_options(cfg, data_root, sizes, args.tiny)
    cfg.merge_from_dict(options)
    same, detail = compare_with_synthetic_batch(cfg)
    labels = min(len(classes), sizes['train_clips'])
    checks.add('data', same and counts['train'] == sizes['train_clips'],
               f'{counts} clips over {labels} classes written in '
               f'{summary["phases"]["data_s"]:.1f} s; {detail}')

    max_rotations = cfg.custom_hooks[air_hook_index(cfg)].get(
        'max_rotations', 1)
    expected = [min(e, max_rotations) for e in range(1, sizes['epochs'] + 1)]
    env = dict(os.environ, PYTHONUNBUFFERED='1',
               CUBLAS_WORKSPACE_CONFIG=':4096:8')
    if args.device == 'cpu':
        env.update(CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    work_dirs = {name: osp.join(runs_root, name)
                 for name in ('fp32', 'killed', 'amp')}

    def launch(name: str, *flags: str, log: Optional[str] = None):
        return TrainingRun(
            name, train_command(args.config, work_dirs[name], options,
                                *flags),
            osp.join(runs_root, f'{log or name}.log'), env)

    phase = time.perf_counter()
    print(f'{elapsed(start)} phase 1: fp32 reference and the run to kill '
          '(--deterministic)', flush=True)
    reference = launch('fp32', '--deterministic')
    killed = launch('killed', '--deterministic')
    kill = kill_mid_epoch(killed, work_dirs['killed'], KILL_EPOCH,
                          sizes['timeout'])
    killed_status = killed.wait(sizes['timeout'])
    killed_checkpoint = (load_checkpoint(kill['checkpoint'])
                         if kill['killed'] else None)
    print(f'{elapsed(start)} killed: {kill}', flush=True)
    reference_status = reference.wait(sizes['timeout'])
    summary['phases']['phase1_s'] = time.perf_counter() - phase
    check_run(checks, 'train_fp32', reference, reference_status,
              work_dirs['fp32'], sizes['epochs'], expected,
              ' (--deterministic)')

    phase = time.perf_counter()
    print(f'{elapsed(start)} phase 2: --resume auto'
          f'{" and --amp" if args.device == "cuda" else ""}', flush=True)
    resumed = launch('killed', '--deterministic', '--resume', 'auto',
                     log='resumed')
    amp = launch('amp', '--amp') if args.device == 'cuda' else None
    resumed_status = resumed.wait(sizes['timeout'])
    check_resume(checks, kill, killed_status, killed_checkpoint,
                 resumed, resumed_status, work_dirs, sizes['epochs'],
                 expected)
    if amp is None:
        checks.add('train_amp', None, 'CPU: mmengine\'s AmpOptimWrapper '
                   'needs CUDA')
    else:
        amp_status = amp.wait(sizes['timeout'])
        dumped = [p for p in Path(work_dirs['amp']).glob('*.py')
                  if 'AmpOptimWrapper' in p.read_text()]
        check_run(checks, 'train_amp', amp, amp_status, work_dirs['amp'],
                  sizes['epochs'], expected,
                  f', AmpOptimWrapper {"in" if dumped else "NOT in"} the '
                  'dumped config')
    summary['phases']['phase2_s'] = time.perf_counter() - phase

    phase = time.perf_counter()
    print(f'{elapsed(start)} phase 3: bench_train_step', flush=True)
    bench_args = bench.parse_args(
        ['--config', args.config, '--device', args.device, '--batch-size',
         str(sizes['batch_size']), '--steps', str(sizes['bench_steps']),
         '--warmup', str(sizes['bench_warmup']), '--precision',
         *sizes['bench_precisions'], '--json',
         osp.join(out, 'bench_train_step.json')] +
        (['--tiny'] if args.tiny else []))
    try:
        record = bench.run_benchmark(bench_args)
    except RuntimeError as error:
        checks.add('performance', False, str(error)[-2000:])
        record = None
    if record is not None:
        print(bench.format_table(record), flush=True)
        with open(bench_args.json, 'w') as handle:
            json.dump(record, handle, indent=1)
        check_performance(checks, record)
    summary['phases']['phase3_s'] = time.perf_counter() - phase
    summary['performance'] = dict(
        bench_train_step=record,
        training={name: training_figures(work_dirs[name],
                                         sizes['batch_size'])
                  for name in work_dirs if osp.isdir(work_dirs[name])},
        training_note='two runs shared the device and the CPUs at a time')

    summary['total_s'] = time.perf_counter() - start
    summary['checks'] = checks.results
    summary['passed'] = checks.passed
    with open(osp.join(out, 'summary.json'), 'w') as handle:
        json.dump(summary, handle, indent=1)
    print(f'{elapsed(start)} summary:')
    for name, result in checks.results.items():
        print(f'  {result["status"].upper():7s} {name}')
    print(f'{"PASS" if checks.passed else "FAIL"}: '
          f'{sum(r["status"] == "pass" for r in checks.results.values())} '
          f'passed, '
          f'{sum(r["status"] == "fail" for r in checks.results.values())} '
          f'failed, '
          f'{sum(r["status"] == "skipped" for r in checks.results.values())}'
          f' skipped in {summary["total_s"]:.0f} s; '
          f'{osp.join(out, "summary.json")}')
    return 0 if checks.passed else 1


if __name__ == '__main__':
    sys.exit(main())
