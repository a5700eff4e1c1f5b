"""The prototype pass of PMR, as a pure function.

The shape of mmpretrain's ``update_bn_stats`` beside ``PreciseBNHook``:
:func:`update_prototypes` runs the pass, :class:`~rollingq_mm.engine.PMRHook`
decides when (its loader is :func:`~rollingq_mm.engine.air_statistics_pass.
eval_pass_loader`'s fixed subset, split across ranks).
"""
from typing import Iterable

import torch
from mmengine import dist
from torch import nn

from rollingq_mm.models.balancing import PMRRegulariser, class_sums
from rollingq_mm.models.heads import BaseAVHead
from rollingq_mm.utils.rng_state import get_rng_state, set_rng_state


@torch.no_grad()
def update_prototypes(model: nn.Module, head: BaseAVHead,
                      regulariser: PMRRegulariser, loader: Iterable) -> int:
    """Refresh ``regulariser``'s prototypes from an eval-mode pass.

    Every batch goes through the model's ``data_preprocessor`` and its
    ``mode='tensor'`` forward (tokens ``{m: (B*N, L_m, C_m)}``, the N views
    of a sample consecutive), in eval mode and without gradient; the head's
    ``pool`` gives the features z^m (B*N, C_m), each view labelled with its
    sample's class. The per-class sums and counts (float64) are summed over
    all ranks in one all-reduce, so every rank gets the same prototypes
    (PMR's Eqs. 6 and 12). The model's mode and the global random
    generators are restored afterwards.

    Args:
        model (nn.Module): The model (unwrapped), an mmengine ``BaseModel``.
        head (BaseAVHead): The fusion head inside ``model`` (its ``pool``,
            ``modalities``, ``in_channels`` and ``num_classes``).
        regulariser (PMRRegulariser): Receives the prototypes.
        loader (Iterable): This rank's batches of the subset.

    Returns:
        int: The number of features per modality over all ranks.
    """
    device = next(model.parameters()).device
    num_classes = head.num_classes
    sums = {
        m: torch.zeros(num_classes, head.in_channels[m], dtype=torch.float64,
                       device=device)
        for m in head.modalities
    }
    counts = torch.zeros(num_classes, dtype=torch.float64, device=device)
    rng_state = get_rng_state()
    was_training = model.training
    model.eval()
    try:
        for batch in loader:
            data = model.data_preprocessor(batch, False)
            tokens = model(**data, mode='tensor')
            samples = data['data_samples']
            labels = torch.cat([s.gt_label.reshape(1) for s in samples])
            labels = labels.to(device=device, dtype=torch.long)
            for m in head.modalities:
                views = tokens[m].shape[0] // len(samples)
                batch_sums, batch_counts = class_sums(
                    head.pool(tokens[m]), labels.repeat_interleave(views),
                    num_classes)
                sums[m] += batch_sums
            counts += batch_counts
    finally:
        model.train(was_training)
        set_rng_state(rng_state)
    flat = torch.cat([sums[m].flatten() for m in head.modalities] + [counts])
    dist.all_reduce(flat, op='sum')
    offset = 0
    for m in head.modalities:
        size = sums[m].numel()
        sums[m] = flat[offset:offset + size].view_as(sums[m])
        offset += size
    counts = flat[offset:]
    regulariser.update_prototypes(sums, counts)
    return int(counts.sum())
