"""Convert an image ViT-B/16 checkpoint into the paper's two towers.

The towers of the "vanilla multimodal transformer" of RollingQ (Ni et al.,
ICML 2025, https://arxiv.org/abs/2506.11465) are the first layers of an
ImageNet ViT: the audio tower is mmpretrain's ``VisionTransformer`` with one
input channel over a spectrogram, the video tower is
:class:`~rollingq_mm.models.VideoVisionTransformer`. This module reads a
checkpoint in mmpretrain or timm key names and returns one state dict whose
keys start with ``audio.`` and ``visual.``; each tower loads its part with
``init_cfg=dict(type='Pretrained', checkpoint=FILE, prefix='audio.')`` (or
``prefix='visual.'``).
"""
import math
import re
from typing import Dict, List, Sequence, Tuple

import torch
from mmpretrain.models.utils import resize_pos_embed

from .pos_embed import image_to_video_pos_embed

# timm name -> mmpretrain name (``{i}`` is the layer index).
_TIMM_TO_MMPRETRAIN = (
    (r'^patch_embed\.proj\.', 'patch_embed.projection.'),
    (r'^blocks\.(\d+)\.norm1\.', r'layers.\1.ln1.'),
    (r'^blocks\.(\d+)\.attn\.qkv\.', r'layers.\1.attn.qkv.'),
    (r'^blocks\.(\d+)\.attn\.proj\.', r'layers.\1.attn.proj.'),
    (r'^blocks\.(\d+)\.norm2\.', r'layers.\1.ln2.'),
    (r'^blocks\.(\d+)\.mlp\.fc1\.', r'layers.\1.ffn.layers.0.0.'),
    (r'^blocks\.(\d+)\.mlp\.fc2\.', r'layers.\1.ffn.layers.1.'),
    (r'^norm\.', 'ln1.'),
)
# Keys of classifier heads and training state, not part of the encoder.
_IGNORED = re.compile(
    r'^(head|heads|pre_logits|fc_norm|data_preprocessor|neck)(\.|$)')
_MMPRETRAIN_KEY = re.compile(
    r'^(cls_token|pos_embed|patch_embed\.projection\.(weight|bias)|'
    r'layers\.\d+\.(ln1|ln2|attn\.qkv|attn\.proj|ffn\.layers\.0\.0|'
    r'ffn\.layers\.1)\.(weight|bias)|ln1\.(weight|bias))$')
_PREFIXES = ('module.', 'backbone.', 'encoder.')


def unwrap_checkpoint(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The weights of a checkpoint file's content.

    Args:
        checkpoint (dict): What ``torch.load`` returned: a state dict, or a
            dict holding it under ``state_dict`` (mmengine) or ``model``
            (timm / DeiT training scripts).

    Returns:
        dict: Parameter name -> tensor, with the ``module.`` / ``backbone.`` /
        ``encoder.`` prefixes removed.
    """
    if not isinstance(checkpoint, dict):
        raise TypeError('A checkpoint must be a dict, got '
                        f'{type(checkpoint).__name__}.')
    for key in ('state_dict', 'model'):
        if isinstance(checkpoint.get(key), dict):
            checkpoint = checkpoint[key]
            break
    weights = {}
    for name, value in checkpoint.items():
        if not isinstance(value, torch.Tensor):
            continue
        stripped = True
        while stripped:
            stripped = False
            for prefix in _PREFIXES:
                if name.startswith(prefix):
                    name, stripped = name[len(prefix):], True
        weights[name] = value
    return weights


def to_mmpretrain_names(
        weights: Dict[str, torch.Tensor]
) -> Tuple[Dict[str, torch.Tensor], str, List[str]]:
    """Rename a ViT state dict to mmpretrain ``VisionTransformer`` names.

    Args:
        weights (dict): Unwrapped state dict in mmpretrain or timm names.

    Returns:
        tuple: (renamed state dict, detected layout ``'mmpretrain'`` or
        ``'timm'``, list of ignored classifier keys).

    Raises:
        KeyError: a key that is neither a ViT encoder key of the detected
            layout nor a classifier key (named in the message).
    """
    layout = 'timm' if any(k.startswith('blocks.') for k in weights) else \
        'mmpretrain'
    renamed, ignored = {}, []
    for name, value in weights.items():
        if _IGNORED.match(name):
            ignored.append(name)
            continue
        new_name = name
        if layout == 'timm':
            for pattern, replacement in _TIMM_TO_MMPRETRAIN:
                new_name = re.sub(pattern, replacement, new_name)
        if not _MMPRETRAIN_KEY.match(new_name):
            raise KeyError(
                f'Unsupported key "{name}" in a {layout}-layout ViT '
                'checkpoint (supported: a standard ViT with cls_token, '
                'pos_embed, patch embedding, pre-norm blocks with fused qkv, '
                'final norm).')
        renamed[new_name] = value
    for required in ('cls_token', 'pos_embed',
                     'patch_embed.projection.weight'):
        if required not in renamed:
            raise KeyError(f'The checkpoint has no "{required}" '
                           f'({layout} layout): is it a ViT?')
    return renamed, layout, ignored


def _stem_weight(weight: torch.Tensor, in_channels: int,
                 channel_reduce: str) -> torch.Tensor:
    """Patch kernel (C, C_in, [t,] p, p) -> (C, in_channels, p, p).

    A temporal kernel axis (a video checkpoint) is summed, so that a clip of
    identical frames keeps its response; RGB -> one channel sums or averages
    the colour kernels.
    """
    if weight.dim() == 5:
        weight = weight.sum(dim=2)
    if weight.dim() != 4:
        raise ValueError('patch_embed.projection.weight must be 4-D or 5-D, '
                         f'got shape {tuple(weight.shape)}.')
    if weight.shape[1] == in_channels:
        return weight
    if in_channels != 1:
        raise ValueError(
            f'Cannot map a {weight.shape[1]}-channel patch kernel onto '
            f'{in_channels} input channels (only RGB -> 1 is supported).')
    if channel_reduce == 'sum':
        return weight.sum(dim=1, keepdim=True)
    if channel_reduce == 'mean':
        return weight.mean(dim=1, keepdim=True)
    raise ValueError(f'channel_reduce must be "sum" or "mean", got '
                     f'{channel_reduce!r}.')


def convert_vit_to_towers(checkpoint: dict,
                          num_layers: int = 4,
                          audio_patch_grid: Sequence[int] = (8, 64),
                          video_patch_grid: Sequence[int] = (14, 14),
                          num_frames: int = 3,
                          audio_in_channels: int = 1,
                          channel_reduce: str = 'sum',
                          keep_final_norm: bool = True) -> dict:
    """Audio and video tower weights from one image ViT checkpoint.

    Args:
        checkpoint (dict): Loaded checkpoint (mmpretrain or timm names; see
            :func:`unwrap_checkpoint`).
        num_layers (int): Number of leading transformer layers kept.
            Defaults to 4 (the paper's towers).
        audio_patch_grid (Sequence[int]): (H', W') patch grid of the audio
            tower, the one its patch embedding builds: with 16x16 patches and
            no padding (the paper configs) (8, 64) for 128x1024 fbanks fed
            frequency-major (Kinetics-Sounds) and (11, 16) for 188x257
            spectrograms (CREMA-D). The image table's 14x14 grid is resized
            to it by bicubic interpolation, each axis on its own. Defaults to
            (8, 64).
        video_patch_grid (Sequence[int]): (H', W') patch grid of each frame.
            Defaults to (14, 14) (224x224 frames).
        num_frames (int): Frames T of the video tower. Defaults to 3.
        audio_in_channels (int): Input channels of the audio tower.
            Defaults to 1.
        channel_reduce (str): How RGB kernels become one channel: 'sum' (a
            grey image replicated to RGB gives the same response) or 'mean'.
            Defaults to 'sum'.
        keep_final_norm (bool): Copy the checkpoint's final LayerNorm to the
            towers' final norm. Defaults to True.

    Returns:
        dict: ``{'state_dict': {'audio.<key>': ..., 'visual.<key>': ...},
        'meta': {...}}`` with the source layout, its depth, and the ignored
        keys.
    """
    weights, layout, ignored = to_mmpretrain_names(
        unwrap_checkpoint(checkpoint))
    depth = 1 + max(
        (int(k.split('.')[1]) for k in weights if k.startswith('layers.')),
        default=-1)
    if num_layers < 1 or num_layers > depth:
        raise ValueError(f'num_layers={num_layers} but the checkpoint has '
                         f'{depth} transformer layers.')
    pos_embed = weights['pos_embed']
    num_patches = pos_embed.shape[1] - 1
    side = math.isqrt(num_patches)
    if side * side != num_patches:
        raise ValueError(f'pos_embed of shape {tuple(pos_embed.shape)} is not '
                         'a CLS token + a square patch grid.')

    shared = {}
    for name, value in weights.items():
        if name.startswith('layers.'):
            if int(name.split('.')[1]) < num_layers:
                shared[name] = value
        elif name.startswith('ln1.'):
            if keep_final_norm:
                shared[name] = value
        elif name == 'cls_token' or name.startswith('patch_embed.'):
            shared[name] = value

    stem = weights['patch_embed.projection.weight']
    audio = dict(shared)
    audio['patch_embed.projection.weight'] = _stem_weight(
        stem, audio_in_channels, channel_reduce)
    audio['pos_embed'] = resize_pos_embed(pos_embed, (side, side),
                                          tuple(audio_patch_grid), 'bicubic',
                                          1)
    visual = dict(shared)
    visual['patch_embed.projection.weight'] = _stem_weight(
        stem, stem.shape[1], channel_reduce)
    visual['pos_embed'] = image_to_video_pos_embed(pos_embed, (side, side),
                                                   video_patch_grid,
                                                   num_frames)
    state_dict = {f'audio.{k}': v.clone() for k, v in audio.items()}
    state_dict.update({f'visual.{k}': v.clone() for k, v in visual.items()})
    meta = dict(
        source_layout=layout,
        source_layers=depth,
        num_layers=num_layers,
        source_patch_grid=[side, side],
        audio_patch_grid=list(audio_patch_grid),
        video_patch_grid=list(video_patch_grid),
        num_frames=num_frames,
        channel_reduce=channel_reduce,
        ignored_keys=sorted(ignored))
    return dict(state_dict=state_dict, meta=meta)
