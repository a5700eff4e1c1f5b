"""Toy audio-visual data and model for the engine tests.

Real fusion heads on linear token encoders: fast enough for the many small
Runner runs (and 2-process gloo runs) of the hook tests. Each test module
draws its own tokens (what the tokens carry is the test's design) and wraps
them in :class:`ToyAVDataset`.
"""
from typing import Optional

import torch
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.model import BaseModel
from torch import nn
from torch.utils.data import Dataset

MODALITIES = ('audio', 'visual')


class ToyAVDataset(Dataset):
    """Samples of given tokens and labels.

    Args:
        audio (Tensor): Audio tokens (S, L_a, D).
        visual (Tensor): Visual tokens (S, L_v, D).
        labels (Tensor): Class ids (S,).
        augment (bool): Add noise to the audio tokens from the global
            generator at every access, as random transforms do.
            Defaults to False.
    """

    def __init__(self, audio: torch.Tensor, visual: torch.Tensor,
                 labels: torch.Tensor, augment: bool = False) -> None:
        if not len(audio) == len(visual) == len(labels):
            raise ValueError('audio, visual and labels must have one entry '
                             'per sample')
        self.audio = audio
        self.visual = visual
        self.labels = labels
        self.augment = augment

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        audio = self.audio[index]
        if self.augment:
            audio = audio + 0.05 * torch.randn(audio.shape)
        return dict(
            inputs=dict(audio=audio, visual=self.visual[index]),
            data_samples=ActionDataSample().set_gt_label(
                int(self.labels[index])))


class ToyAVModel(BaseModel):
    """A linear encoder (and optionally a linear tokenizer) per modality,
    named ``encoders.<m>`` / ``tokenizers.<m>`` as in AudioVisualRecognizer,
    and a real fusion head built after them (so the initial weights depend
    only on the seed and these arguments).

    Args:
        head (dict): Config of the fusion head (mmaction registry).
        in_dim (int): Width D of the input tokens.
        channels (int): Width of the encoded tokens.
        tokenizers (bool): Add a linear tokenizer after each encoder.
            Defaults to False.
    """

    def __init__(self, head: dict, in_dim: int, channels: int,
                 tokenizers: bool = False) -> None:
        super().__init__()
        self.encoders = nn.ModuleDict(
            {m: nn.Linear(in_dim, channels) for m in MODALITIES})
        self.tokenizers: Optional[nn.ModuleDict] = None
        if tokenizers:
            self.tokenizers = nn.ModuleDict(
                {m: nn.Linear(channels, channels) for m in MODALITIES})
        self.fusion_head = MODELS.build(head)

    def extract_feat(self, inputs: dict) -> dict:
        """Tokens (B, L_m, C) per modality."""
        feats = {}
        for m in MODALITIES:
            tokens = self.encoders[m](torch.stack(list(inputs[m])).float())
            if self.tokenizers is not None:
                tokens = self.tokenizers[m](tokens)
            feats[m] = tokens
        return feats

    def forward(self, inputs, data_samples=None, mode='tensor'):
        feats = self.extract_feat(inputs)
        if mode == 'loss':
            return self.fusion_head.loss(feats, data_samples)
        if mode == 'predict':
            return self.fusion_head.predict(feats, data_samples)
        return feats
