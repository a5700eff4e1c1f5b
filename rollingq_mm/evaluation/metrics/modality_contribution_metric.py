"""How much the fused prediction relies on each modality."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.evaluator import BaseMetric

from mmaction.registry import METRICS

from ...keys import ABLATED_KEY, FUSED_KEY


@METRICS.register_module()
class ModalityContributionMetric(BaseMetric):
    """Top-1 drop of the fused output when one modality is ablated.

    For each modality m the test-time wrapper ``ModalityAblationTTA``
    (``tta_model = dict(type='ModalityAblationTTA', ablation='mean')`` in
    the config, ``tools/test.py --tta``) predicts a second time with m's
    input replaced, and stores the scores under
    ``pred_score['fused_without_<m>']``. This metric reports
    ``<m>_drop`` = top-1(fused) − top-1(fused without m) and the ablated
    top-1 itself. A drop near 0 means the fusion ignores m.

    Args:
        modalities (Sequence[str]): modality names in the head's order.
        collect_device (str): 'cpu' or 'gpu'. Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'contrib'.
    """

    default_prefix: Optional[str] = 'contrib'

    def __init__(self, modalities: Sequence[str], collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not modalities or len(set(modalities)) != len(modalities):
            raise ValueError(
                f'modalities must be distinct names, got {list(modalities)}')
        self.modalities = list(modalities)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep whether the fused and each ablated prediction is correct."""
        for index, sample in enumerate(data_samples):
            scores = sample['pred_score']
            keys = [FUSED_KEY] + [
                ABLATED_KEY.format(m) for m in self.modalities]
            missing = [key for key in keys
                       if not isinstance(scores, dict) or key not in scores]
            if missing:
                raise KeyError(
                    f'ModalityContributionMetric: sample {index} has no '
                    f'pred_score {missing}; the modality ablation runs in '
                    "ModalityAblationTTA: set tta_model = dict(type="
                    "'ModalityAblationTTA', ablation='mean') (or 'noise') "
                    'in the config and run tools/test.py with --tta.')
            label = int(torch.as_tensor(sample['gt_label']).reshape(-1)[0])
            self.results.append({
                key: int(torch.as_tensor(scores[key]).argmax()) == label
                for key in keys})

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Fused top-1 minus ablated top-1, per modality."""
        count = len(results)
        fused = sum(r[FUSED_KEY] for r in results) / count
        metrics = {}
        for name in self.modalities:
            key = ABLATED_KEY.format(name)
            ablated = sum(r[key] for r in results) / count
            metrics[f'{key}_top1'] = ablated
            metrics[f'{name}_drop'] = fused - ablated
        return metrics
