"""Tiny real-pipeline AV-Digits runs for the reliability tests.

``tiny_avdigits_config`` loads ``configs/rollingq_avdigits.py`` (or another
AV-Digits config) as ``tools/train.py`` does and shrinks it: one-layer,
32-wide ViT towers, a few dozen real clips of the shipped ``data/avdigits``,
batch 8, a handful of epochs (about a second each on CPU). ``train`` runs
``tools/train.py`` on such a config in a subprocess, with this folder on
``PYTHONPATH`` so configs can ``custom_imports`` the test-only hooks of
``reliability_hooks.py``.
"""
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

from mmengine.config import Config

import rollingq_mm  # noqa: F401  (compat layer and registration)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
AVDIGITS = REPO / 'data' / 'avdigits'
TINY_WIDTH = 32
TINY_ARCH = dict(embed_dims=TINY_WIDTH, num_layers=1, num_heads=2,
                 feedforward_channels=2 * TINY_WIDTH)
#: Rotations at the ends of epochs 1 and 3 (AIR is never exactly 0).
ROTATING_AIR_HOOK = dict(type='AIRHook', air_threshold=0.0, rho=1.0,
                         max_rotations=2, begin_epoch=1, interval=2)


def subset_annotations(split: str, count: int, out_dir: Path) -> Path:
    """Every k-th clip of a split, ``count`` clips balanced over the labels.

    Args:
        split (str): ``train``, ``val`` or ``test``.
        count (int): Number of clips.
        out_dir (Path): Where the annotation file is written.

    Returns:
        Path: The annotation file (paths relative to ``data/avdigits``).
    """
    lines = [line for line in (AVDIGITS / f'{split}.txt').read_text(
        ).splitlines() if line.strip() and not line.startswith('#')]
    step = len(lines) // count
    path = out_dir / f'{split}_{count}.txt'
    path.write_text('\n'.join(lines[i * step] for i in range(count)) + '\n')
    return path


def tiny_avdigits_config(work_dir: Path,
                         name: str = 'rollingq_avdigits.py',
                         train_samples: int = 32,
                         val_samples: int = 16,
                         batch_size: int = 8,
                         max_epochs: int = 4,
                         num_workers: int = 0,
                         persistent_workers: bool = False,
                         dropout: Optional[float] = None,
                         train_audio_seconds: float = 0.4) -> Config:
    """An AV-Digits config shrunk to a few seconds of CPU training.

    Args:
        work_dir (Path): The run's work dir (annotation subsets go there).
        name (str): Config file in ``configs/``. Defaults to
            'rollingq_avdigits.py'.
        train_samples (int): Training clips. Defaults to 32.
        val_samples (int): Validation (and test) clips. Defaults to 16.
        batch_size (int): Per-process batch. Defaults to 8.
        max_epochs (int): Epochs. Defaults to 4.
        num_workers (int): Loader processes per split. Defaults to 0.
        persistent_workers (bool): Keep them between epochs. Defaults to
            False.
        dropout (float, optional): Replace every dropout rate of the model.
            Defaults to None (keep the config's).
        train_audio_seconds (float): ``FixAudioLength`` of the training
            pipeline: shorter than most clips, so the random crop position
            matters. Defaults to 0.4.

    Returns:
        Config: The shrunk config, ``work_dir`` set.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    cfg = Config.fromfile(str(REPO / 'configs' / name))
    for spec in cfg.model.modalities.values():
        spec.backbone.arch = dict(TINY_ARCH)
        spec.tokenizer.in_channels = TINY_WIDTH
        if dropout is not None:
            spec.backbone.drop_rate = dropout
    if dropout is not None and 'attn_drop' in cfg.model.fusion_head:
        cfg.model.fusion_head.attn_drop = dropout
        cfg.model.fusion_head.proj_drop = dropout
    anns = dict(train=subset_annotations('train', train_samples, work_dir),
                val=subset_annotations('val', val_samples, work_dir))
    anns['test'] = anns['val']
    for split, ann_file in anns.items():
        loader = cfg[f'{split}_dataloader']
        loader.batch_size = batch_size
        loader.num_workers = num_workers
        loader.persistent_workers = persistent_workers and num_workers > 0
        loader.dataset.ann_file = str(ann_file)
        loader.dataset.data_prefix = dict(video=str(AVDIGITS),
                                          audio=str(AVDIGITS))
        loader.dataset.metainfo = dict(classes=str(AVDIGITS / 'classes.txt'))
    for step in cfg.train_dataloader.dataset.pipeline:
        if step.type == 'FixAudioLength':
            step.seconds = train_audio_seconds
    cfg.train_cfg.max_epochs = max_epochs
    if max_epochs > 1:
        cfg.param_scheduler[-1].end = max_epochs
    else:
        cfg.param_scheduler = cfg.param_scheduler[:1]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.pop('curves')
    cfg.work_dir = str(work_dir)
    cfg.launcher = 'none'
    return cfg


def write_config(cfg: Config, path: Path) -> Path:
    """Dump ``cfg`` to ``path`` and return it."""
    cfg.dump(str(path))
    return path


def train_command(config: Path, *args: str) -> list:
    """``python tools/train.py CONFIG ARGS`` as an argument list."""
    return [sys.executable, str(REPO / 'tools' / 'train.py'), str(config),
            *args]


def subprocess_env(**extra: str) -> dict:
    """Environment of the tool subprocesses: one thread, helpers importable."""
    path = os.pathsep.join(
        p for p in (str(HERE), os.environ.get('PYTHONPATH')) if p)
    return dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS='1',
                MKL_NUM_THREADS='1', **extra)


def train(config: Path, *args: str, timeout: int = 300,
          **env: str) -> subprocess.CompletedProcess:
    """Run ``tools/train.py`` to its end (from the repo root)."""
    return subprocess.run(
        train_command(config, *args), cwd=str(REPO), env=subprocess_env(**env),
        capture_output=True, text=True, timeout=timeout)


def train_on_one_and_two_processes(configs: Dict[int, Path], port: str,
                                   *args: str) -> None:
    """Train ``configs[1]`` with ``tools/train.py`` and ``configs[2]`` with
    ``tools/dist_train.sh CONFIG 2`` (2 gloo processes) side by side; assert
    that both finish and that the second used gloo."""
    commands = {
        1: train_command(configs[1], *args),
        2: ['bash', str(REPO / 'tools' / 'dist_train.sh'), str(configs[2]),
            '2', *args],
    }
    runs = {
        processes: subprocess.Popen(
            command, cwd=str(REPO), env=subprocess_env(PORT=port),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for processes, command in commands.items()
    }
    for processes, run in runs.items():
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output[-3000:]
        if processes == 2:
            assert 'using the gloo backend' in output
