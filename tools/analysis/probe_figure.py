"""The noise probe's figure: accuracy and attention under noise, and the
attention-quality scatter of the random-level pass."""
import os
import os.path as osp
from typing import Mapping, Sequence

from probe_summary import RANDOM

COLOURS = ('tab:red', 'tab:blue', 'tab:green', 'tab:orange', 'tab:purple')


def plot_noise_probe(accuracy_rows: Sequence[Mapping],
                     correlation_rows: Sequence[Mapping],
                     records: Sequence[Mapping], modalities: Sequence[str],
                     out_file: str, title: str = '') -> str:
    """Draw the probe's results into one PNG.

    Panels: (1) fused top-1 against the noise level, one solid line per
    corrupted modality, and the corrupted modality's own probe top-1
    dashed; (2) mean attention share of the fusion CLS on each modality
    against the level, per corrupted modality (only for heads with
    attention); (3) per-sample attention share on each modality against its
    quality (minus its noise level) in the random-level pass, with Pearson r
    in the legend.

    Args:
        accuracy_rows (Sequence[Mapping]): From
            ``probe_summary.accuracy_by_level``.
        correlation_rows (Sequence[Mapping]): From
            ``attention_quality_correlation`` (same module).
        records (Sequence[Mapping]): The per-sample records.
        modalities (Sequence[str]): Corrupted modalities, in legend order.
        out_file (str): PNG path; its folder is created.
        title (str): Figure title. Defaults to ''.

    Returns:
        str: ``out_file``.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    with_attention = any(k.startswith('attn_') for k in accuracy_rows[0])
    num_panels = 3 if with_attention else 1
    fig, axes = plt.subplots(1, num_panels, figsize=(4.2 * num_panels, 3.6),
                             squeeze=False)
    axes = axes[0]
    colours = dict(zip(modalities, COLOURS))
    _accuracy_panel(axes[0], accuracy_rows, modalities, colours)
    if with_attention:
        _attention_panel(axes[1], accuracy_rows, modalities, colours)
        _scatter_panel(axes[2], correlation_rows, records, colours)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    folder = osp.dirname(out_file)
    if folder:
        os.makedirs(folder, exist_ok=True)
    fig.savefig(out_file, dpi=90)
    plt.close(fig)
    return out_file


def _accuracy_panel(ax, rows, modalities, colours) -> None:
    """Fused (solid) and corrupted-modality probe (dashed) top-1 by level."""
    for name in modalities:
        own = [r for r in rows if r['corrupted'] == name]
        levels = [float(r['level']) for r in own]
        ax.plot(levels, [float(r['top1_fused']) for r in own], marker='o',
                color=colours[name], label=f'fused, {name} noisy')
        if f'top1_{name}' in own[0]:
            ax.plot(levels, [float(r[f'top1_{name}']) for r in own],
                    marker='x', linestyle='--', color=colours[name],
                    label=f'{name} probe')
    ax.set_xlabel('noise level (x modality std)')
    ax.set_ylabel('test top-1')
    ax.set_title('accuracy under noise')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _attention_panel(ax, rows, modalities, colours) -> None:
    """Mean attention share per modality by level (line style: which
    modality is noisy)."""
    styles = ('-', '--', ':', '-.')
    for noisy_index, noisy in enumerate(modalities):
        own = [r for r in rows if r['corrupted'] == noisy]
        levels = [float(r['level']) for r in own]
        for name in colours:
            if f'attn_{name}' not in own[0]:
                continue
            ax.plot(levels, [float(r[f'attn_{name}']) for r in own],
                    marker='o', color=colours[name],
                    linestyle=styles[noisy_index % len(styles)],
                    label=f'on {name}, {noisy} noisy')
    ax.set_xlabel('noise level (x modality std)')
    ax.set_ylabel('mean attention share')
    ax.set_title('fusion attention under noise')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _scatter_panel(ax, correlation_rows, records, colours) -> None:
    """Per-sample attention share against quality in the random pass."""
    subset = [r for r in records if r['setting'] == RANDOM]
    for row in correlation_rows:
        name = row['modality']
        ax.scatter([-float(r[f'level_{name}']) for r in subset],
                   [float(r[f'attn_{name}']) for r in subset], s=4,
                   alpha=0.4, color=colours.get(name, 'black'),
                   label=f'{name}: r = {float(row["pearson_r"]):.2f}')
    ax.set_xlabel('quality = -noise level')
    ax.set_ylabel('attention share')
    ax.set_title('attention vs quality (random levels)')
    ax.grid(alpha=0.3)
    if correlation_rows:
        ax.legend(fontsize=7, markerscale=3)
