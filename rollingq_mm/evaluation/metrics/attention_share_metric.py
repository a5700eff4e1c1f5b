"""Fusion CLS attention share per modality, and AIR, on an eval split."""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmaction.registry import METRICS
from ...keys import ATTN_SHARE_KEY, ATTN_SHARE_NORM_KEY, COSINE_KEY
from ...models.rollingq import attention_imbalance_rate


@METRICS.register_module()
class AttentionShareMetric(BaseMetric):
    """Distribution of the fusion CLS's attention over modalities.

    RollingQ (Ni et al., ICML 2025, arXiv 2506.11465) argues that a healthy
    fusion attends to each modality according to that sample's quality. This
    metric reports, for each modality m, the mean, standard deviation and
    quantiles of the per-sample attention share a_i^m (the sum of the CLS
    query's attention weights on m's tokens; shares of all modalities and of
    the CLS itself sum to 1). The raw share grows with the modality's token
    count L_m (uniform attention gives L_m / (1 + Σ_j L_j)), so when the
    head also reports the token-count-normalised share
    n_i^m = (a_i^m / L_m) / Σ_j (a_i^j / L_j) (the mean attention per token
    of m relative to the other modalities, 1/M under uniform attention) the
    metric reports the same statistics of it as ``<m>_norm_mean``,
    ``<m>_norm_std`` and ``<m>_norm_p<q>``, beside the raw ``<m>_mean``, ...
    When the head also reports per-sample cosines
    cos(q, k̄_i^m) it reports the split's AIR = E_i[cos_i^a − cos_i^v]
    (> 0: the query favours the first modality; N > 2: max − min of the
    per-modality means).

    Needs a head that sets ``attn_share`` (M,) on each sample
    (``RollingQFusionHead``); use it beside mmaction2's ``AccMetric``.

    Args:
        modalities (Sequence[str]): modality names in the head's order.
        quantiles (Sequence[float]): quantiles to report, in [0, 1].
            Defaults to (0.1, 0.5, 0.9).
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'attn'.
    """

    default_prefix: Optional[str] = 'attn'

    def __init__(self, modalities: Sequence[str],
                 quantiles: Sequence[float] = (0.1, 0.5, 0.9),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if len(modalities) < 2 or len(set(modalities)) != len(modalities):
            raise ValueError('modalities must name at least two distinct '
                             f'modalities, got {list(modalities)}')
        if any(not 0.0 <= q <= 1.0 for q in quantiles):
            raise ValueError(f'quantiles must lie in [0, 1], got {quantiles}')
        self.modalities = list(modalities)
        self.quantiles = tuple(quantiles)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's attention shares (and normalised shares and
        cosines when present)."""
        for index, sample in enumerate(data_samples):
            if ATTN_SHARE_KEY not in sample:
                raise KeyError(
                    f'AttentionShareMetric: sample {index} has no '
                    f'{ATTN_SHARE_KEY!r}; the fusion head must report '
                    'attention (RollingQFusionHead does).')
            share = torch.as_tensor(sample[ATTN_SHARE_KEY]).float().cpu()
            if share.numel() != len(self.modalities):
                raise ValueError(
                    f'AttentionShareMetric: {ATTN_SHARE_KEY} has '
                    f'{share.numel()} entries for modalities '
                    f'{self.modalities}')
            result = dict(share=share.numpy())
            for key, field in ((ATTN_SHARE_NORM_KEY, 'share_norm'),
                               (COSINE_KEY, 'cos')):
                if key in sample:
                    result[field] = torch.as_tensor(
                        sample[key]).float().cpu().numpy()
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Mean, std and quantiles of the raw (and normalised) share per
        modality; AIR."""
        metrics = self._share_statistics(
            np.stack([r['share'] for r in results]), '')
        if all('share_norm' in r for r in results):
            metrics.update(self._share_statistics(
                np.stack([r['share_norm'] for r in results]), '_norm'))
        if all('cos' in r for r in results):
            cos_means = np.stack([r['cos'] for r in results]).mean(axis=0)
            metrics['air'] = float(
                attention_imbalance_rate(torch.from_numpy(cos_means)))
        return metrics

    def _share_statistics(self, shares: np.ndarray,
                          infix: str) -> Dict[str, float]:
        """``<m><infix>_mean``, ``_std`` and ``_p<q>`` of shares (N, M)."""
        metrics = {}
        for index, name in enumerate(self.modalities):
            column = shares[:, index]
            metrics[f'{name}{infix}_mean'] = float(column.mean())
            metrics[f'{name}{infix}_std'] = float(column.std())
            for q in self.quantiles:
                metrics[f'{name}{infix}_p{round(q * 100):d}'] = float(
                    np.quantile(column, q))
        return metrics
