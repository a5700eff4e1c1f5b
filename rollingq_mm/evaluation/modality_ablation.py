"""Test-time modality ablation for ``ModalityContributionMetric``."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.model import BaseTTAModel
from torch import nn

from mmaction.registry import MODELS
from mmaction.utils import SampleList
from ..keys import ABLATED_KEY, FUSED_KEY

#: The replacements of an ablated modality's input.
ABLATIONS = ('mean', 'noise')


@MODELS.register_module()
class ModalityAblationTTA(BaseTTAModel):
    """Predict normally, then once per modality with its input replaced.

    Wraps an ``AudioVisualRecognizer`` at test time (``tools/test.py
    --tta`` with ``tta_model = dict(type='ModalityAblationTTA')`` in the
    config, as mmpretrain enables its TTA models). Each batch goes through
    the recognizer's data preprocessor once; the recognizer predicts on it,
    then once more for each modality m with m's (preprocessed) input
    replaced, and the fused scores of that pass are stored as
    ``pred_score['fused_without_<m>']`` for ``ModalityContributionMetric``.
    The checkpoint loads into ``self.module`` (mmengine unwraps TTA models).

    Args:
        module (dict or nn.Module): The recognizer, with ``modality_names``
            and ``input_keys`` (``AudioVisualRecognizer``).
        ablation (str): ``'mean'`` replaces the input by zeros, its dataset
            mean when the data preprocessor or the feature transform
            standardises it (as every config here does); ``'noise'`` by
            Gaussian noise with the batch's mean and std of that input.
            Defaults to 'mean'.
        seed (int): Seed of the CPU generator of the noise, restarted for
            every batch. Defaults to 0.
        data_preprocessor (dict or nn.Module, optional): Replaces the
            module's data preprocessor. Defaults to None.
    """

    def __init__(self,
                 module: Union[dict, nn.Module],
                 ablation: str = 'mean',
                 seed: int = 0,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None
                 ) -> None:
        if ablation not in ABLATIONS:
            raise ValueError(f'ModalityAblationTTA: ablation must be one of '
                             f'{ABLATIONS}, got {ablation!r}.')
        super().__init__(module, data_preprocessor)
        for attribute in ('modality_names', 'input_keys'):
            if not hasattr(self.module, attribute):
                raise TypeError(
                    'ModalityAblationTTA wraps a recognizer with '
                    f'modality_names and input_keys (AudioVisualRecognizer),'
                    f' got {type(self.module).__name__}.')
        self.ablation = ablation
        self.seed = int(seed)

    def _replace(self, data: torch.Tensor,
                 generator: torch.Generator) -> torch.Tensor:
        """The ablated version of one modality's batch (B, N, ...)."""
        if self.ablation == 'mean':
            return torch.zeros_like(data)
        noise = torch.randn(data.shape, generator=generator)
        return (noise.to(data) * data.float().std() +
                data.float().mean()).to(data.dtype)

    def test_step(self, data: Union[dict, tuple, list]) -> SampleList:
        """Predictions of a batch with ``fused_without_<m>`` scores.

        Args:
            data (dict): A batch from the test dataloader.

        Returns:
            list[ActionDataSample]: The recognizer's predictions, with
            ``pred_score['fused_without_<m>']`` (K,) per modality m.
        """
        data = self.module.data_preprocessor(data, False)
        inputs: Dict[str, torch.Tensor] = data['inputs']
        samples: SampleList = data['data_samples']
        generator = torch.Generator(device='cpu').manual_seed(self.seed)
        passes = []
        for name in self.module.modality_names:
            key = self.module.input_keys[name]
            ablated = dict(inputs)
            ablated[key] = self._replace(inputs[key], generator)
            passes.append(self.module(
                ablated, [s.clone() for s in samples], mode='predict'))
        plain = self.module(inputs, samples, mode='predict')
        return self.merge_preds(list(zip(plain, *passes)))

    def merge_preds(self,
                    data_samples_list: Sequence[List]) -> SampleList:
        """Per sample [plain, without m_1, ...]: the plain prediction with
        the fused score of each ablated one as ``fused_without_<m>``."""
        merged = []
        for plain, *ablated in data_samples_list:
            for name, sample in zip(self.module.modality_names, ablated):
                plain.pred_score[ABLATED_KEY.format(name)] = \
                    sample.pred_score[FUSED_KEY]
            merged.append(plain)
        return merged
