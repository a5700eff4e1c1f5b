"""Audio-visual recognizer: one encoder per modality, one fusion head."""
from typing import Dict, List, Optional, Tuple, Union

import torch
from mmengine.model import BaseModel, ModuleDict

from mmaction.registry import MODELS
from mmaction.utils import OptSampleList, SampleList
from ...keys import FUSED_KEY
from ..necks import TokenNeck


@MODELS.register_module()
class AudioVisualRecognizer(BaseModel):
    """Encode each modality, turn it into tokens, fuse them in one head.

    The model of RollingQ (Ni et al., "RollingQ: Reviving the Cooperation
    Dynamics in Multimodal Transformer", ICML 2025,
    https://arxiv.org/abs/2506.11465) and of its baselines: every modality
    ``m`` has its own encoder (any backbone of mmaction2 / mmpretrain or of
    this package) and tokenizer (e.g. :class:`TokenNeck`), whose tokens
    ``(B, L_m, C_m)`` go to a fusion head (``RollingQFusionHead``,
    ``ConcatFusionHead``, ``UnimodalHead``).

    Inputs come from ``PackActionInputs(collect_keys=...)`` and the
    ``MultiModalDataPreprocessor`` as a dict, one tensor per input key, of
    shape ``(B, N, ...)`` with N views (clips) per sample: e.g. ``imgs``
    (B, N, 3, T, H, W) and ``audios`` (B, N, 1, T, F). The views are folded
    into the batch: a 3-D video backbone gets (B*N, 3, T, H, W), an audio
    backbone (B*N, 1, T, F); with ``frame_wise=True`` a 2-D backbone gets
    every frame (B*N*T, 3, H, W) as TSN does, and the tokenizer gathers the
    frames of each clip. A modality with one view is shared by the N views of
    the others. In training every view is a sample; at test the head's
    per-view predictions (softmax scores, attention shares) are averaged
    over the views of each sample.

    Args:
        modalities (dict): Ordered ``name -> dict(input_key=..., backbone=...,
            tokenizer=..., frame_wise=False)``; the order is the head's
            modality order (``audio`` first, so AIR > 0 means the fusion
            query favours audio). ``backbone`` and ``tokenizer`` are
            registry configs; a ``TokenNeck`` tokenizer gets the modality
            name for its error messages.
        fusion_head (dict): Config of the fusion head. ``modalities``
            defaults to the names above (a different list is an error) and
            ``in_channels`` to ``{name: tokenizer.out_channels}``.
        data_preprocessor (dict, optional): Defaults to None, meaning a
            ``MultiModalDataPreprocessor`` that only stacks each input key
            (``format_shape='NCTHW'`` for ``imgs``, ``'NCHW'`` otherwise).
        train_cfg (dict, optional): Kept as ``self.train_cfg`` like
            mmaction2's recognizers. Defaults to None.
        test_cfg (dict, optional): Kept as ``self.test_cfg`` like
            mmaction2's recognizers. Defaults to None.
        init_cfg (dict or list[dict], optional): Initialisation config.
            Defaults to None.
    """

    def __init__(self,
                 modalities: Dict[str, dict],
                 fusion_head: dict,
                 data_preprocessor: Optional[dict] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        if not isinstance(modalities, dict) or not modalities:
            raise ValueError('model.modalities must be a non-empty dict '
                             'name -> dict(input_key, backbone, tokenizer).')
        specs = {}
        for name, spec in modalities.items():
            missing = {'input_key', 'backbone', 'tokenizer'} - set(spec)
            unknown = set(spec) - {'input_key', 'backbone', 'tokenizer',
                                   'frame_wise'}
            if missing or unknown:
                raise ValueError(
                    f'model.modalities.{name}: missing keys {sorted(missing)}'
                    f', unknown keys {sorted(unknown)} (allowed: input_key, '
                    'backbone, tokenizer, frame_wise).')
            specs[name] = spec
        if data_preprocessor is None:
            data_preprocessor = dict(
                type='MultiModalDataPreprocessor',
                preprocessors={
                    spec['input_key']: dict(
                        type='ActionDataPreprocessor',
                        format_shape='NCTHW'
                        if spec['input_key'] == 'imgs' else 'NCHW')
                    for spec in specs.values()
                })
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)

        self.modality_names = list(specs)
        self.input_keys = {m: spec['input_key'] for m, spec in specs.items()}
        self.frame_wise = {
            m: bool(spec.get('frame_wise', False))
            for m, spec in specs.items()
        }
        self.encoders = ModuleDict()
        self.tokenizers = ModuleDict()
        for name, spec in specs.items():
            self.encoders[name] = MODELS.build(spec['backbone'])
            tokenizer_cfg = dict(spec['tokenizer'])
            tokenizer_type = tokenizer_cfg.get('type')
            if isinstance(tokenizer_type, str):
                tokenizer_type = MODELS.get(tokenizer_type)
            if (isinstance(tokenizer_type, type)
                    and issubclass(tokenizer_type, TokenNeck)):
                tokenizer_cfg.setdefault('modality', name)
            self.tokenizers[name] = MODELS.build(tokenizer_cfg)

        head_cfg = dict(fusion_head)
        head_modalities = list(head_cfg.setdefault('modalities',
                                                   self.modality_names))
        if head_modalities != self.modality_names:
            raise ValueError(
                f'model.fusion_head.modalities={head_modalities} differs from '
                f'the order of model.modalities {self.modality_names}.')
        if 'in_channels' not in head_cfg:
            unknown = [
                m for m in self.modality_names
                if not hasattr(self.tokenizers[m], 'out_channels')
            ]
            if unknown:
                raise ValueError(
                    f'The tokenizers of {unknown} have no out_channels: set '
                    'model.fusion_head.in_channels.')
            head_cfg['in_channels'] = {
                m: self.tokenizers[m].out_channels
                for m in self.modality_names
            }
        self.fusion_head = MODELS.build(head_cfg)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg

    def _check_inputs(self, inputs: Dict[str, torch.Tensor]
                      ) -> Tuple[Dict[str, torch.Tensor], int]:
        """Each modality's batch tensor (B, N_m, ...), checked, and N.

        Every modality's input key must be present with at least the
        (B, N, ...) dims (six for ``frame_wise``), and every N_m is 1 or the
        same N.
        """
        data = {}
        for name in self.modality_names:
            key = self.input_keys[name]
            if not isinstance(inputs, dict) or key not in inputs:
                found = (sorted(inputs) if isinstance(inputs, dict) else
                         type(inputs).__name__)
                raise KeyError(
                    f'AudioVisualRecognizer: modality "{name}" reads inputs'
                    f'["{key}"], but the batch has {found}; check '
                    'PackActionInputs(collect_keys=...) in the pipeline and '
                    'the data_preprocessor.')
            tensor = inputs[key]
            min_dim = 6 if self.frame_wise[name] else 3
            if tensor.dim() < min_dim:
                raise ValueError(
                    f'AudioVisualRecognizer: inputs["{key}"] of modality '
                    f'"{name}" has shape {tuple(tensor.shape)}; expected '
                    '(B, N, ...) with N views' +
                    (', and (B, N, C, T, H, W) for frame_wise'
                     if self.frame_wise[name] else '') + '.')
            data[name] = tensor
        views = {name: tensor.shape[1] for name, tensor in data.items()}
        num_views = max(views.values())
        if any(n not in (1, num_views) for n in views.values()):
            raise ValueError(
                'AudioVisualRecognizer: the numbers of views per modality '
                f'{views} must be equal, or 1 for a modality shared by all '
                'views.')
        return data, num_views

    def extract_feat(
            self, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Tokens of every modality, views folded into the batch.

        Args:
            inputs (dict): Input key -> (B, N_m, ...) tensors; every N_m is
                either 1 or the same N.

        Returns:
            dict: Modality name -> tokens (B*N, L_m, C_m); the N views of a
            sample are consecutive (N = 1 gives (B, L_m, C_m)).
        """
        return self._tokens_of(*self._check_inputs(inputs))

    def _tokens_of(self, data: Dict[str, torch.Tensor],
                   num_views: int) -> Dict[str, torch.Tensor]:
        """Tokens of every modality's checked batch (B, N_m, ...)."""
        return {
            name: self._tokens(name, data[name], num_views)
            for name in self.modality_names
        }

    def _tokens(self, name: str, data: torch.Tensor,
                num_views: int) -> torch.Tensor:
        """Tokens (B*N, L, C) of one modality's batch (B, N_m, ...)."""
        views = data.shape[1]
        data = data.reshape((-1, ) + data.shape[2:])
        num_frames = 1
        if self.frame_wise[name]:
            num_frames = data.shape[2]
            data = data.transpose(1, 2).reshape(
                (-1, data.shape[1]) + data.shape[3:])
        out = self.encoders[name](data)
        if self.frame_wise[name]:
            tokens = self.tokenizers[name](out, num_frames=num_frames)
        else:
            tokens = self.tokenizers[name](out)
        if views != num_views:
            tokens = tokens.repeat_interleave(num_views, dim=0)
        return tokens

    def loss(self, inputs: Dict[str, torch.Tensor],
             data_samples: SampleList) -> Dict[str, torch.Tensor]:
        """Losses of a batch; every view is a training sample.

        Args:
            inputs (dict): Input key -> (B, N, ...) tensors.
            data_samples (list[ActionDataSample]): B samples with
                ``gt_label``.

        Returns:
            dict: The head's losses (``loss_cls``, ``loss_probe_<m>``) and
            scalars (e.g. ``air``, ``attn_<m>``).
        """
        data, num_views = self._check_inputs(inputs)
        feats = self._tokens_of(data, num_views)
        if num_views > 1:
            data_samples = [s for s in data_samples for _ in range(num_views)]
        return self.fusion_head.loss(feats, data_samples)

    def predict(self, inputs: Dict[str, torch.Tensor],
                data_samples: SampleList) -> SampleList:
        """Predictions, averaged over the views of each sample.

        Args:
            inputs (dict): Input key -> (B, N, ...) tensors.
            data_samples (list[ActionDataSample]): B samples.

        Returns:
            list[ActionDataSample]: The samples with the head's fields:
            ``pred_score`` (dict of (K,) softmax scores, ``'fused'`` and one
            per modality), ``pred_label`` (argmax of the fused score) and,
            for attention heads, ``attn_share`` / ``modality_cos`` (M,).
            With several views, every floating-point field the head sets
            (tensors, or dicts of tensors) is the mean over the views and
            ``pred_label`` the argmax of the mean fused score.
        """
        data, num_views = self._check_inputs(inputs)
        return self._predict_feats(self._tokens_of(data, num_views),
                                   data_samples, num_views)

    def _predict_feats(self, feats: Dict[str, torch.Tensor],
                       data_samples: SampleList, num_views: int) -> SampleList:
        """The head's predictions on ``feats``, averaged over views."""
        if num_views == 1:
            return self.fusion_head.predict(feats, data_samples)
        per_view = self.fusion_head.predict(
            feats,
            [s.clone() for s in data_samples for _ in range(num_views)])
        for i, sample in enumerate(data_samples):
            group = per_view[i * num_views:(i + 1) * num_views]
            for key in set(group[0].keys()) - set(sample.keys()):
                if key != 'pred_label':
                    values = [view.get(key) for view in group]
                    sample.set_field(self._mean_over_views(key, values), key)
            sample.set_pred_label(sample.pred_score[FUSED_KEY].argmax())
        return data_samples

    @staticmethod
    def _mean_over_views(key: str, values: list):
        """Mean of one prediction field over the views of a sample."""
        if isinstance(values[0], dict):
            return {
                name: torch.stack([v[name] for v in values]).mean(0)
                for name in values[0]
            }
        if isinstance(values[0], torch.Tensor) and \
                values[0].is_floating_point():
            return torch.stack(values).mean(0)
        raise TypeError(
            f'AudioVisualRecognizer: cannot average the prediction field '
            f'"{key}" ({type(values[0]).__name__}) over the views of a '
            'sample; only floating-point tensors and dicts of them.')

    def forward(self,
                inputs: Dict[str, torch.Tensor],
                data_samples: OptSampleList = None,
                mode: str = 'tensor'
                ) -> Union[Dict[str, torch.Tensor], SampleList]:
        """Run in one of mmengine's modes.

        Args:
            inputs (dict): Input key -> (B, N, ...) tensors.
            data_samples (list[ActionDataSample], optional): The samples;
                needed by 'loss' and 'predict'. Defaults to None.
            mode (str): 'loss' (dict of losses), 'predict' (samples with
                predictions) or 'tensor' (the tokens of
                :meth:`extract_feat`). Defaults to 'tensor'.

        Returns:
            dict | list: As ``mode`` says.
        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        raise RuntimeError(f'Invalid mode "{mode}": use "loss", "predict" or '
                           '"tensor".')
