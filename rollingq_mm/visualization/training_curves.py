"""Read a run's ``vis_data/scalars.json`` and draw its RollingQ curves.

The figure has three panels over epochs: the epoch AIR logged by
:class:`~rollingq_mm.engine.hooks.AIRHook` (rotation epochs marked), the
fusion CLS's attention share per modality, and validation top-1 of the fused
output and of each modality's probe. Several runs can share one figure (a
vanilla vs RollingQ comparison).
"""
import json
import os.path as osp
from dataclasses import dataclass, field
from glob import glob
from typing import Dict, List, Mapping

from ..keys import ATTN_SCALAR, SCALAR_PREFIX

ACC_PREFIX = 'acc/'
ACC_SUFFIX = '_top1'


@dataclass
class RunCurves:
    """Per-epoch curves of one run.

    Attributes:
        air (dict): epoch -> AIR at the end of that training epoch.
        attention (dict): modality -> {epoch: attention share}.
        accuracy (dict): 'fused' or modality -> {epoch: validation top-1}.
        rotation_epochs (list): epochs at whose end the query was rotated.
    """
    air: Dict[int, float] = field(default_factory=dict)
    attention: Dict[str, Dict[int, float]] = field(default_factory=dict)
    accuracy: Dict[str, Dict[int, float]] = field(default_factory=dict)
    rotation_epochs: List[int] = field(default_factory=list)


def find_scalars_files(path: str) -> List[str]:
    """Scalars files of a run, oldest first.

    ``path`` may be a ``scalars.json`` file, a log dir (``<work_dir>/<time>``)
    or a work dir; in a work dir every ``<time>/vis_data/scalars.json`` is
    returned in time order, so a resumed run reads as one.

    Raises:
        FileNotFoundError: naming ``path`` when it holds no scalars file.
    """
    if osp.isfile(path):
        return [path]
    own = osp.join(path, 'vis_data', 'scalars.json')
    found = [own] if osp.isfile(own) else sorted(
        glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not found:
        raise FileNotFoundError(
            f'{path}: no vis_data/scalars.json (was the run logged with '
            'LocalVisBackend?)')
    return found


def load_run_curves(path: str) -> RunCurves:
    """Parse the scalars that AIRHook and the validation loop logged.

    Files and lines are read in order and later values win for the same
    epoch, so a resumed run that repeats an epoch keeps the values of the
    attempt that finished it.

    Args:
        path (str): a work dir, log dir or scalars file
            (see :func:`find_scalars_files`).

    Raises:
        ValueError: naming the file and line of a malformed JSON line.
    """
    curves = RunCurves()
    rotations: Dict[int, bool] = {}
    for scalars_file in find_scalars_files(path):
        with open(scalars_file) as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(
                        f'{scalars_file}:{number}: not JSON ({err})') from err
                _add_record(curves, record, rotations)
    curves.rotation_epochs = sorted(e for e, done in rotations.items() if done)
    return curves


def _add_record(curves: RunCurves, record: Mapping,
                rotations: Dict[int, bool]) -> None:
    attention_prefix = SCALAR_PREFIX + ATTN_SCALAR.format('')
    step = int(record.get('step', -1))
    if SCALAR_PREFIX + 'air' in record:
        curves.air[step] = float(record[SCALAR_PREFIX + 'air'])
        rotations[step] = float(
            record.get(SCALAR_PREFIX + 'rotation_angle', 0.0)) > 0
        for key, value in record.items():
            if key.startswith(attention_prefix):
                name = key[len(attention_prefix):]
                curves.attention.setdefault(name, {})[step] = float(value)
    for key, value in record.items():
        if key.startswith(ACC_PREFIX) and key.endswith(ACC_SUFFIX):
            name = key[len(ACC_PREFIX):-len(ACC_SUFFIX)]
            curves.accuracy.setdefault(name, {})[step] = float(value)


def plot_run_curves(runs: Mapping[str, RunCurves], out_file: str,
                    title: str = '') -> str:
    """Draw AIR, attention shares and accuracies of ``runs`` into a PNG.

    Args:
        runs (Mapping[str, RunCurves]): run label -> curves; one entry draws a
            single run, several overlay them (one colour per run).
        out_file (str): path of the PNG to write.
        title (str): figure title. Defaults to ''.

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    styles = ['-', '--', ':', '-.']
    for index, (label, curves) in enumerate(runs.items()):
        colour = colours[index % len(colours)]
        prefix = f'{label}: ' if len(runs) > 1 else ''
        _line(axes[0], curves.air, colour, '-', f'{prefix}AIR')
        for epoch in curves.rotation_epochs:
            axes[0].axvline(epoch, color=colour, alpha=0.35, linestyle=':')
            axes[1].axvline(epoch, color=colour, alpha=0.35, linestyle=':')
        attention = sorted(curves.attention.items())
        for style, (name, values) in zip(styles, attention):
            _line(axes[1], values, colour, style, f'{prefix}{name}')
        ordered = sorted(curves.accuracy.items(),
                         key=lambda kv: kv[0] != 'fused')
        for style, (name, values) in zip(styles, ordered):
            _line(axes[2], values, colour, style, f'{prefix}{name}')
    axes[0].axhline(0.0, color='grey', linewidth=0.8)
    axes[0].set_title('AIR (> 0: query favours the first modality)')
    axes[1].set_title('attention share of the fusion CLS')
    axes[2].set_title('validation top-1')
    for ax in axes:
        ax.set_xlabel('epoch')
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if any(curves.rotation_epochs for curves in runs.values()):
        axes[0].plot([], [], color='grey', linestyle=':', label='rotation')
        axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return out_file


def _line(ax, values: Mapping[int, float], colour: str, style: str,
          label: str) -> None:
    if values:
        epochs = sorted(values)
        ax.plot(epochs, [values[e] for e in epochs], color=colour,
                linestyle=style, marker='o', markersize=3, label=label)
