"""The eval-mode statistics pass of RollingQ, as a pure function.

The shape of mmpretrain's ``update_bn_stats`` beside ``PreciseBNHook``:
:class:`~rollingq_mm.engine.AIRHook` decides when to call it.
"""
from typing import Iterable

import torch
from torch import nn

from rollingq_mm.models.heads import RollingQFusionHead
from rollingq_mm.utils.rng_state import get_rng_state, set_rng_state


@torch.no_grad()
def update_air_statistics(model: nn.Module, head: RollingQFusionHead,
                          loader: Iterable) -> int:
    """Refill ``head.air_statistics`` from an eval-mode pass over ``loader``.

    The statistics are reset, then every batch goes through the model's own
    training forward path (``data_preprocessor`` and ``mode='loss'``, which
    needs the samples' labels but, unlike ``test_step``, never adds the
    ablated predictions of ``test_cfg``) in eval mode: no dropout, no
    gradient, the head recording as it does in training. The model's mode
    and the global random generators are restored afterwards, so the pass
    does not change the training that follows.

    Args:
        model (nn.Module): The model (unwrapped), an mmengine ``BaseModel``
            whose ``'loss'`` forward runs ``head``.
        head (RollingQFusionHead): The head inside ``model`` whose
            statistics are refilled.
        loader (Iterable): Batches as a training dataloader yields them.

    Returns:
        int: The number of samples now in the statistics (this process's).
    """
    head.air_statistics.reset()
    rng_state = get_rng_state()
    was_training = model.training
    model.eval()
    try:
        with head.recording_statistics():
            for batch in loader:
                model(**model.data_preprocessor(batch, False), mode='loss')
    finally:
        model.train(was_training)
        set_rng_state(rng_state)
    return head.air_statistics.count
