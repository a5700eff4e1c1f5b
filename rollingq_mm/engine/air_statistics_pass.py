"""The eval-mode statistics pass of RollingQ, as pure functions.

The shape of mmpretrain's ``update_bn_stats`` beside ``PreciseBNHook``:
:func:`eval_pass_loader` builds the pass's loader once,
:func:`update_air_statistics` runs the pass, and
:class:`~rollingq_mm.engine.AIRHook` decides when to call it.
"""
from typing import Iterable, Optional

import torch
from mmengine import dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from rollingq_mm.models.heads import RollingQFusionHead
from rollingq_mm.utils.rng_state import get_rng_state, set_rng_state


def eval_pass_loader(dataset: Dataset, train_loader: DataLoader,
                     num_samples: Optional[int], seed: int,
                     persistent_workers: bool) -> DataLoader:
    """This rank's loader over the eval pass's fixed subset of ``dataset``.

    The subset (``num_samples`` indices drawn once from ``seed``, or the
    whole dataset) is split across ranks without padding, so every sample
    counts once over the world; batches keep the dataset's order.

    Args:
        dataset (Dataset): The eval pass's dataset.
        train_loader (DataLoader): The training loader, whose batch size,
            worker count and collate function the pass uses.
        num_samples (int, optional): Size of the subset; None for all.
        seed (int): Seed of the subset's choice.
        persistent_workers (bool): Keep the workers between passes (when
            the pass runs every epoch).

    Returns:
        DataLoader: The loader of this rank's share of the subset.
    """
    total = len(dataset)
    if num_samples is None:
        indices = list(range(total))
    elif num_samples > total:
        raise ValueError(
            f'AIRHook: eval_pass_samples ({num_samples}) is more than the '
            f'{total} samples of the eval-pass dataset.')
    else:
        generator = torch.Generator().manual_seed(seed)
        indices = sorted(
            torch.randperm(total, generator=generator)[:num_samples].tolist())
    rank, world_size = dist.get_dist_info()
    workers = train_loader.num_workers
    return DataLoader(
        Subset(dataset, indices[rank::world_size]),
        batch_size=train_loader.batch_size,
        shuffle=False,
        num_workers=workers,
        collate_fn=train_loader.collate_fn,
        persistent_workers=workers > 0 and persistent_workers,
        generator=torch.Generator().manual_seed(seed))


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
