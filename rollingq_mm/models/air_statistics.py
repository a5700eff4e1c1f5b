"""Online per-epoch statistics of the fusion attention for RollingQ.

The fusion head adds each training batch to an :class:`AIRStatistics`;
at the end of the epoch :class:`~rollingq_mm.engine.AIRHook` reduces it
across ranks and reads the means. Accumulators stay on the device of the keys
and are updated without host synchronisation.
"""
from typing import Dict, Optional

import torch
from mmengine import dist
from torch import Tensor


class AIRStatistics:
    """Sums over the samples of one epoch of RollingQ's attention statistics.

    Holds, in float64: the sum of the per-sample mean keys kbar_i^m (M, C),
    the sum of cos(q, kbar_i^m) (M,), the sums of the attention share of the
    fusion query on each modality's tokens and of its token-count-normalised
    share (M,) and the number of samples; apart from these, the number of
    correct top-1 predictions of each modality's unimodal probe (M,) and
    the number of labelled samples they were counted on.
    These are plain tensors, not module buffers, so DDP's buffer broadcast
    never overwrites the rank-local sums; they are created on the device of
    the first batch.

    Args:
        num_modalities (int): M, the number of modalities.
        channels (int): C, the key dimension.
    """

    def __init__(self, num_modalities: int, channels: int) -> None:
        if num_modalities < 1 or channels < 1:
            raise ValueError('AIRStatistics needs num_modalities >= 1 and '
                             f'channels >= 1, got {num_modalities} and '
                             f'{channels}.')
        self.num_modalities = num_modalities
        self.channels = channels
        self._sums: Optional[Dict[str, Tensor]] = None
        self._reduced = False

    def _allocate(self, device: torch.device) -> Dict[str, Tensor]:
        """Zero accumulators on ``device``."""
        zeros = dict(dtype=torch.float64, device=device)
        return dict(
            key_sum=torch.zeros(self.num_modalities, self.channels, **zeros),
            cos_sum=torch.zeros(self.num_modalities, **zeros),
            share_sum=torch.zeros(self.num_modalities, **zeros),
            share_norm_sum=torch.zeros(self.num_modalities, **zeros),
            count=torch.zeros((), **zeros),
            probe_hits=torch.zeros(self.num_modalities, **zeros),
            probe_count=torch.zeros((), **zeros))

    def reset(self) -> None:
        """Forget every sample (start of an epoch)."""
        self._sums = None
        self._reduced = False

    @torch.no_grad()
    def update(self, mean_keys: Tensor, cosines: Tensor, attn_share: Tensor,
               attn_share_norm: Tensor) -> None:
        """Add one batch.

        Args:
            mean_keys (Tensor): kbar_i^m, shape (B, M, C).
            cosines (Tensor): cos(q, kbar_i^m), shape (B, M).
            attn_share (Tensor): Attention share of the fusion query on each
                modality's tokens, shape (B, M).
            attn_share_norm (Tensor): Its token-count-normalised share
                (:func:`~rollingq_mm.models.rollingq.
                token_normalised_share`), shape (B, M).
        """
        batch = mean_keys.shape[0]
        expected = (batch, self.num_modalities, self.channels)
        if tuple(mean_keys.shape) != expected or \
                tuple(cosines.shape) != expected[:2] or \
                tuple(attn_share.shape) != expected[:2] or \
                tuple(attn_share_norm.shape) != expected[:2]:
            raise ValueError(
                f'AIRStatistics.update expects mean_keys {expected}, cosines, '
                f'attn_share and attn_share_norm {expected[:2]}, got '
                f'{tuple(mean_keys.shape)}, {tuple(cosines.shape)}, '
                f'{tuple(attn_share.shape)} and '
                f'{tuple(attn_share_norm.shape)}.')
        sums = self._writable_sums(mean_keys.device)
        sums['key_sum'] += mean_keys.detach().to(torch.float64).sum(dim=0)
        sums['cos_sum'] += cosines.detach().to(torch.float64).sum(dim=0)
        sums['share_sum'] += attn_share.detach().to(torch.float64).sum(dim=0)
        sums['share_norm_sum'] += attn_share_norm.detach().to(
            torch.float64).sum(dim=0)
        sums['count'] += batch

    @torch.no_grad()
    def update_probes(self, hits: Tensor) -> None:
        """Add one labelled batch's unimodal probe predictions.

        Args:
            hits (Tensor): Whether each modality's probe predicted the label
                (top-1), shape (B, M), bool or 0/1.
        """
        if hits.dim() != 2 or hits.shape[1] != self.num_modalities:
            raise ValueError('AIRStatistics.update_probes expects hits '
                             f'(B, {self.num_modalities}), got '
                             f'{tuple(hits.shape)}.')
        sums = self._writable_sums(hits.device)
        sums['probe_hits'] += hits.detach().to(torch.float64).sum(dim=0)
        sums['probe_count'] += hits.shape[0]

    def _writable_sums(self, device: torch.device) -> Dict[str, Tensor]:
        """The accumulators (created on ``device`` at the first batch);
        refuses once they were reduced across ranks."""
        if self._reduced:
            raise RuntimeError('AIRStatistics were already reduced across '
                               'ranks; call reset() before adding batches.')
        if self._sums is None:
            self._sums = self._allocate(device)
        return self._sums

    def all_reduce(self) -> None:
        """Sum the accumulators over all ranks, in place (once per epoch).

        A rank that saw no sample contributes zeros. Every rank must call it.
        Calling it twice without :meth:`reset` raises ``RuntimeError``: the
        sums would be counted again.
        """
        if self._reduced:
            raise RuntimeError('AIRStatistics.all_reduce was already called '
                               'for this epoch; call reset() first.')
        if self._sums is None:
            self._sums = self._allocate(torch.device('cpu'))
        for tensor in self._sums.values():
            dist.all_reduce(tensor, op='sum')
        self._reduced = True

    @property
    def count(self) -> int:
        """Number of samples accumulated (after :meth:`all_reduce`: all
        ranks)."""
        return 0 if self._sums is None else int(self._sums['count'])

    def summary(self) -> Dict[str, Tensor]:
        """Epoch means.

        Returns:
            dict: ``count`` (int), ``mean_keys`` E_m (M, C), ``cosines`` c_m
            (M,), ``attn_share`` (M,) and ``attn_share_norm`` (M,), float64
            tensors on the device of the accumulators; when probe
            predictions were added, also ``probe_accuracy`` (M,), the top-1
            accuracy of each modality's probe over those samples.

        Raises:
            RuntimeError: no sample was accumulated (check :attr:`count`).
        """
        count = self.count
        if count == 0:
            raise RuntimeError('AIRStatistics hold no sample: no training '
                               'batch went through the fusion head.')
        sums = self._sums
        summary = dict(
            count=count,
            mean_keys=sums['key_sum'] / count,
            cosines=sums['cos_sum'] / count,
            attn_share=sums['share_sum'] / count,
            attn_share_norm=sums['share_norm_sum'] / count)
        probe_count = int(sums['probe_count'])
        if probe_count:
            summary['probe_accuracy'] = sums['probe_hits'] / probe_count
        return summary
