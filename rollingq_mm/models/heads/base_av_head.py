"""Base class of the audio-visual fusion heads: tokens in, fused logits out."""
import copy
from abc import ABCMeta, abstractmethod
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmaction.utils import SampleList
from mmengine.model import BaseModule
from torch import Tensor

from ...keys import (ATTN_NORM_SCALAR, ATTN_SCALAR, ATTN_SHARE_KEY,
                     ATTN_SHARE_NORM_KEY, COSINE_KEY, FUSED_KEY,
                     UNIMODAL_LOGITS_KEY)
from ..balancing import OGMScores

#: Default initialisation of every Linear of a head (fusion projections,
#: classifier, probes): Xavier-normal weights and zero biases, as the
#: authors' release of RollingQ initialises them.
XAVIER_LINEAR_INIT = dict(
    type='Xavier', layer='Linear', distribution='normal', bias=0.0)


class BaseAVHead(BaseModule, metaclass=ABCMeta):
    """Fusion head over per-modality token sequences, with unimodal probes.

    Subclasses implement :meth:`forward_fusion`. For each modality this base
    class adds a probe ``Linear(C_m, num_classes)`` fed with a DETACHED pooled
    copy of that modality's tokens and trained by its own loss: the probes
    measure each encoder's quality without steering it.

    Args:
        num_classes (int): K, the number of classes.
        modalities (Sequence[str]): Modality names, in a fixed order (the
            order of every per-modality output). Defaults to
            ``('audio', 'visual')``.
        in_channels (int | dict): C_m, channels of each modality's tokens:
            one int for all, or a dict with one entry per modality.
            Defaults to 768.
        probe_pool (str): How a probe pools the tokens (B, L_m, C_m): 'mean'
            over tokens or 'cls' for token 0 (an encoder's own CLS token).
            Defaults to 'mean'.
        loss_cls (dict): Config of the classification loss (mmaction2
            registry), used for the fused logits and every probe. Defaults
            to ``dict(type='CrossEntropyLoss')``.
        probe_loss_weight (float): Weight of each probe's loss. Defaults to
            1.0.
        init_cfg (dict, optional): Initialisation config. Defaults to
            :data:`XAVIER_LINEAR_INIT` (every Linear Xavier-normal, zero
            bias); None keeps PyTorch's default Linear initialisation.
    """

    def __init__(self,
                 num_classes: int,
                 modalities: Sequence[str] = ('audio', 'visual'),
                 in_channels: Union[int, Dict[str, int]] = 768,
                 probe_pool: str = 'mean',
                 loss_cls: dict = dict(type='CrossEntropyLoss'),
                 probe_loss_weight: float = 1.0,
                 init_cfg: Optional[dict] = XAVIER_LINEAR_INIT) -> None:
        super().__init__(init_cfg=copy.deepcopy(init_cfg))
        if not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f'num_classes must be a positive int, got '
                             f'{num_classes!r}.')
        self.num_classes = num_classes
        self.modalities = self._check_modalities(modalities)
        self.in_channels = self._check_in_channels(in_channels,
                                                   self.modalities)
        if probe_pool not in ('mean', 'cls'):
            raise ValueError(f"probe_pool must be 'mean' or 'cls', got "
                             f'{probe_pool!r}.')
        self.probe_pool = probe_pool
        if probe_loss_weight < 0:
            raise ValueError('probe_loss_weight must be >= 0, got '
                             f'{probe_loss_weight}.')
        self.probe_loss_weight = probe_loss_weight
        self.loss_cls = MODELS.build(loss_cls)
        self.probes = nn.ModuleDict({
            name: nn.Linear(self.in_channels[name], num_classes)
            for name in self.modalities
        })
        #: Set by ``OGMGEHook``: the step's OGM-GE scores, filled by
        #: :meth:`loss` from :meth:`unimodal_logits`.
        self.ogm_scores: Optional[OGMScores] = None
        #: Set by ``PMRHook``: called by :meth:`loss` with the pooled
        #: features {m: (B, C_m)} (not detached) and the labels (B,); returns
        #: extra loss terms (PMR's ``loss_pmr_<m>``).
        self.feature_regulariser: Optional[Callable[
            [Dict[str, Tensor], Tensor], Dict[str, Tensor]]] = None

    @staticmethod
    def _check_modalities(modalities: Sequence[str]) -> List[str]:
        """Validate ``modalities``: non-empty, strings, no duplicates."""
        if isinstance(modalities, str) or not isinstance(
                modalities, Sequence) or len(modalities) == 0:
            raise ValueError('modalities must be a non-empty list of names, '
                             f'got {modalities!r}.')
        if not all(isinstance(name, str) and name for name in modalities):
            raise ValueError('modalities must be non-empty strings, got '
                             f'{modalities!r}.')
        if len(set(modalities)) != len(modalities):
            raise ValueError(f'modalities has duplicates: {modalities!r}.')
        return list(modalities)

    @staticmethod
    def _check_in_channels(in_channels: Union[int, Dict[str, int]],
                           modalities: List[str]) -> Dict[str, int]:
        """Validate ``in_channels`` and return one int per modality."""
        if isinstance(in_channels, int):
            in_channels = {name: in_channels for name in modalities}
        if not isinstance(in_channels, dict):
            raise ValueError('in_channels must be an int or a dict per '
                             f'modality, got {in_channels!r}.')
        missing = [name for name in modalities if name not in in_channels]
        unknown = [name for name in in_channels if name not in modalities]
        if missing or unknown:
            raise ValueError(
                f'in_channels keys must be the modalities {modalities}: '
                f'missing {missing}, unknown {unknown}.')
        for name in modalities:
            channels = in_channels[name]
            if not isinstance(channels, int) or channels < 1:
                raise ValueError(f"in_channels['{name}'] must be a positive "
                                 f'int, got {channels!r}.')
        return {name: in_channels[name] for name in modalities}

    def check_feats(self, feats: Dict[str, Tensor]) -> int:
        """Validate the head input and return the batch size B.

        Args:
            feats (dict): One tensor (B, L_m, C_m) per modality; extra keys
                are ignored.

        Returns:
            int: B.
        """
        if not isinstance(feats, dict):
            raise TypeError(f'{type(self).__name__} expects a dict of token '
                            f'tensors keyed by {self.modalities}, got '
                            f'{type(feats).__name__}.')
        batch = None
        for name in self.modalities:
            if name not in feats:
                raise ValueError(
                    f"{type(self).__name__}: feats has no key '{name}' "
                    f'(got keys {sorted(feats)}).')
            tokens = feats[name]
            if not isinstance(tokens, Tensor) or tokens.dim() != 3 or \
                    tokens.shape[1] < 1:
                shape = tuple(tokens.shape) if isinstance(
                    tokens, Tensor) else type(tokens).__name__
                raise ValueError(
                    f"{type(self).__name__}: feats['{name}'] must be tokens "
                    f'(B, L, C) with L >= 1, got {shape}.')
            if tokens.shape[2] != self.in_channels[name]:
                raise ValueError(
                    f"{type(self).__name__}: feats['{name}'] has "
                    f'{tokens.shape[2]} channels, in_channels[\'{name}\'] '
                    f'is {self.in_channels[name]}.')
            if batch is not None and tokens.shape[0] != batch:
                raise ValueError(
                    f'{type(self).__name__}: batch sizes differ: '
                    f"feats['{name}'] has {tokens.shape[0]} samples, "
                    f"feats['{self.modalities[0]}'] has {batch}.")
            batch = tokens.shape[0]
        return batch

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Refuse a checkpoint whose classifiers have another class count.

        PyTorch only reports such a size mismatch, and mmengine's
        non-strict loading (``load_from``, ``tools/test.py``) turns the report
        into a warning and keeps randomly initialised classifiers.
        """
        classifiers = [f'probes.{name}' for name in self.modalities]
        if isinstance(getattr(self, 'fc_cls', None), nn.Linear):
            classifiers.insert(0, 'fc_cls')
        modules = dict(self.named_modules())
        for name in classifiers:
            for param_name, param in modules[name].named_parameters(
                    recurse=False):
                key = f'{prefix}{name}.{param_name}'
                found = state_dict.get(key)
                if found is not None and found.shape != param.shape:
                    raise ValueError(
                        f'Checkpoint key {key} has shape '
                        f'{tuple(found.shape)} ({found.shape[0]} classes), '
                        f'the model\'s has {tuple(param.shape)} '
                        f'(num_classes={self.num_classes}). Set the '
                        "head's num_classes to the checkpoint's, or drop "
                        f'the {prefix}fc_cls.* and {prefix}probes.* keys from '
                        'the checkpoint to train new classifiers.')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def pool(self, tokens: Tensor) -> Tensor:
        """Pool tokens (B, L, C) into (B, C) as ``probe_pool`` says."""
        if self.probe_pool == 'cls':
            return tokens[:, 0]
        return tokens.mean(dim=1)

    @abstractmethod
    def forward_fusion(self, feats: Dict[str, Tensor]
                       ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Fuse the modalities.

        Args:
            feats (dict): One tensor (B, L_m, C_m) per modality, validated.

        Returns:
            tuple: Fused logits (B, K) and a dict of extras: 0-dim tensors
            are reported by :meth:`loss`; ``'attn_share'``,
            ``'attn_share_norm'`` and ``'modality_cos'`` (B, M), when
            present, are the per-sample attention share, its
            token-count-normalised value and the query-key cosine per
            modality.
        """

    def forward(self, feats: Dict[str, Tensor]
                ) -> Tuple[Dict[str, Tensor], Dict[str, Tensor]]:
        """Fused and probe logits.

        Args:
            feats (dict): One tensor (B, L_m, C_m) per modality.

        Returns:
            tuple: Logits ``{'fused': (B, K), <modality>: (B, K), ...}`` and
            the extras of :meth:`forward_fusion`.
        """
        self.check_feats(feats)
        fused, extras = self.forward_fusion(feats)
        logits = dict(fused=fused)
        for name in self.modalities:
            logits[name] = self.probes[name](self.pool(feats[name].detach()))
        return logits, extras

    @staticmethod
    def _labels(data_samples: SampleList, batch: int,
                device: torch.device) -> Tensor:
        """Class indices (B,) from the samples' ``gt_label``."""
        if len(data_samples) != batch:
            raise ValueError(f'Got {len(data_samples)} data samples for a '
                             f'batch of {batch} feature sequences.')
        labels = []
        for index, sample in enumerate(data_samples):
            if 'gt_label' not in sample:
                raise ValueError(f'Data sample {index} has no gt_label.')
            if sample.gt_label.numel() != 1:
                raise ValueError(
                    f'Data sample {index} has gt_label of shape '
                    f'{tuple(sample.gt_label.shape)}; fusion heads expect '
                    'one class index per sample.')
            labels.append(sample.gt_label.reshape(1))
        return torch.cat(labels).to(device=device, dtype=torch.long)

    def loss(self, feats: Dict[str, Tensor], data_samples: SampleList,
             **kwargs) -> Dict[str, Tensor]:
        """Losses and monitored scalars of one training batch.

        Args:
            feats (dict): One tensor (B, L_m, C_m) per modality.
            data_samples (list[ActionDataSample]): Samples with ``gt_label``.

        Returns:
            dict: ``loss_cls`` (fused), ``loss_probe_<modality>``, every
            0-dim extra (detached) and, when the head reports attention,
            ``attn_<modality>`` (batch mean of the attention share) and
            ``norm_attn_<modality>`` (of the token-count-normalised share);
            with ``feature_regulariser`` set, its terms too.
        """
        logits, extras = self(feats)
        labels = self._labels(data_samples, logits[FUSED_KEY].shape[0],
                              logits[FUSED_KEY].device)
        self.record_probes(logits, labels)
        if self.ogm_scores is not None:
            self.ogm_scores.update(self.unimodal_logits(logits, extras),
                                   labels)
        losses = dict(loss_cls=self.loss_cls(logits[FUSED_KEY], labels))
        for name in self.modalities:
            losses[f'loss_probe_{name}'] = self.probe_loss_weight * \
                self.loss_cls(logits[name], labels)
        if self.feature_regulariser is not None:
            losses.update(self.feature_regulariser(
                {name: self.pool(feats[name]) for name in self.modalities},
                labels))
        for key, value in extras.items():
            if key in (ATTN_SHARE_KEY, ATTN_SHARE_NORM_KEY):
                scalar = ATTN_SCALAR if key == ATTN_SHARE_KEY \
                    else ATTN_NORM_SCALAR
                shares = value.detach().mean(dim=0)
                for index, name in enumerate(self.modalities):
                    losses[scalar.format(name)] = shares[index]
            elif value.dim() == 0:
                losses[key] = value.detach()
        return losses

    def record_probes(self, logits: Dict[str, Tensor],
                      labels: Tensor) -> None:
        """Called by :meth:`loss` with the batch's logits and labels (B,)
        for heads that keep statistics of their probes; this base keeps
        none."""

    def unimodal_logits(self, logits: Dict[str, Tensor],
                        extras: Dict[str, Tensor]) -> Tensor:
        """Each modality's own output, as OGM-GE scores it.

        Args:
            logits (dict): The logits of :meth:`forward`.
            extras (dict): The extras of :meth:`forward_fusion`.

        Returns:
            Tensor: (B, M, K): the ``unimodal_logits`` extra when the head
            reports one (the concat classifier's per-modality part), else
            the probes' logits in the order of ``modalities``.
        """
        if UNIMODAL_LOGITS_KEY in extras:
            return extras[UNIMODAL_LOGITS_KEY]
        return torch.stack([logits[name] for name in self.modalities], dim=1)

    def predict(self, feats: Dict[str, Tensor], data_samples: SampleList,
                **kwargs) -> SampleList:
        """Fill each sample's ``pred_score``, ``pred_label``, ``attn_share``.

        Args:
            feats (dict): One tensor (B, L_m, C_m) per modality.
            data_samples (list[ActionDataSample]): B samples.

        Returns:
            list[ActionDataSample]: The samples, each with ``pred_score`` =
            ``{'fused': (K,), <modality>: (K,), ...}`` (softmax),
            ``pred_label`` (fused argmax) and, when the head has attention,
            ``attn_share``, ``attn_share_norm`` and ``modality_cos`` (M,) in
            the order of ``modalities``.
        """
        logits, extras = self(feats)
        batch = logits[FUSED_KEY].shape[0]
        if len(data_samples) != batch:
            raise ValueError(f'Got {len(data_samples)} data samples for a '
                             f'batch of {batch} feature sequences.')
        scores = {key: value.detach().softmax(dim=-1)
                  for key, value in logits.items()}
        labels = scores['fused'].argmax(dim=-1)
        per_sample = {key: extras[key].detach().float()
                      for key in (ATTN_SHARE_KEY, ATTN_SHARE_NORM_KEY,
                                  COSINE_KEY) if key in extras}
        for index, sample in enumerate(data_samples):
            sample.set_field({key: value[index]
                              for key, value in scores.items()}, 'pred_score')
            sample.set_pred_label(labels[index])
            for key, value in per_sample.items():
                sample.set_field(value[index], key)
        return data_samples
