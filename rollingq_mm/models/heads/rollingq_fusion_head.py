"""Attention fusion head with a rotatable query (RollingQ)."""
import logging
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmengine.logging import print_log
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor

from ..air_statistics import AIRStatistics
from ..rollingq import (attention_imbalance_rate, modality_cosines,
                        token_normalised_share)
from ...keys import ATTN_SHARE_KEY, ATTN_SHARE_NORM_KEY, COSINE_KEY
from ..layers import CLSQueryAttention, ModalityProjection
from .base_av_head import BaseAVHead

#: Largest |RᵀR - I| accepted by :meth:`RollingQFusionHead.apply_rotation`.
ORTHOGONALITY_TOLERANCE = 1e-4
#: Parameters of the attention layer (``attn.<name>`` in checkpoints).
ATTENTION_PARAMETERS = tuple(
    f'{proj}.{kind}' for proj in ('q_proj', 'k_proj', 'v_proj', 'out_proj')
    for kind in ('weight', 'bias'))


@MODELS.register_module()
class RollingQFusionHead(BaseAVHead):
    """Fusion by one attention query over all tokens, rotated by RollingQ.

    The "vanilla multimodal transformer" fusion layer of RollingQ (Ni et al.,
    "RollingQ: Reviving the Cooperation Dynamics in Multimodal Transformer",
    ICML 2025, https://arxiv.org/abs/2506.11465). Tokens x_m (B, L_m, C_m)
    are projected to C = ``fusion_dim`` when C_m differs, a learnable fusion
    token c (1, 1, C) is prepended, and only c's query attends::

        q = R (W_Q c + b_Q)                          (C,), input-independent
        K, V = W_K s + b_K, W_V s + b_V             s = [c; x_1; ...; x_M]
        a = softmax(K q / sqrt(d))                   (B, L), L = 1 + Σ L_m
        logits = FC(dropout(W_O (dropout(a) V)))

    Only the fusion token attends: :class:`~rollingq_mm.models.layers.
    CLSQueryAttention` (``attn``, holding W_Q, W_K, W_V, W_O) evaluates that
    row in O(L C) per sample, never forming K, V or an (L, L) matrix. Tokens
    whose width differs from C go through their (B, L_m, C_m) -> (B, L_m, C)
    projection first. This head keeps the fusion token, the rotation state,
    the statistics and the classifier.

    R is the persistent buffer ``rotation`` (identity until
    :class:`~rollingq_mm.engine.AIRHook` calls :meth:`apply_rotation`), and
    ``num_rotations`` counts the rotations; both are saved in checkpoints.

    With ``num_heads`` H > 1 the query, keys and values are split into H
    heads of d = C / H channels and each head attends on its own; R still
    rotates the whole C-dimensional query, and the cosines behind AIR use
    the full C-dimensional query and keys. The attention share a_m of a
    modality is the attention mass on its tokens, averaged over heads. It
    grows with the modality's token count L_m (uniform attention gives
    L_m / (1 + Σ_j L_j)), so the head also reports the token-count-normalised
    share n_m = (a_m / L_m) / Σ_j (a_j / L_j) (1/M under uniform attention;
    :func:`~rollingq_mm.models.rollingq.token_normalised_share`) and logs
    the token counts once, at its first forward.

    During training forwards the head adds to :attr:`air_statistics`, per
    sample and modality, the mean key kbar_i^m over that modality's tokens,
    cos(q, kbar_i^m), the raw and normalised attention shares and, in
    :meth:`loss`, whether the modality's probe predicted the label. Inside
    :meth:`recording_statistics` eval-mode forwards add to them as well
    (the dedicated statistics pass of
    ``AIRHook(statistics='eval_pass')``).

    Args:
        num_classes (int): K, the number of classes.
        fusion_dim (int, optional): C. Defaults to None: the common C_m
            (then all C_m must be equal).
        num_heads (int): H; must divide ``fusion_dim``. Defaults to 1, as in
            the paper.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.2.
        proj_drop (float): Dropout after W_O. Defaults to 0.2.
        **kwargs: The arguments of :class:`BaseAVHead`: ``modalities`` (at
            least two, in a fixed order; with two, AIR = c_0 - c_1 > 0 means
            the query favours the first), ``in_channels``, ``probe_pool``,
            ``loss_cls``, ``probe_loss_weight`` and ``init_cfg`` (by default
            every Linear Xavier-normal with zero bias, as in the authors'
            release; the fusion token stays trunc-normal, std 0.02).
    """

    def __init__(self,
                 num_classes: int,
                 fusion_dim: Optional[int] = None,
                 num_heads: int = 1,
                 attn_drop: float = 0.2,
                 proj_drop: float = 0.2,
                 **kwargs) -> None:
        super().__init__(num_classes=num_classes, **kwargs)
        if len(self.modalities) < 2:
            raise ValueError('RollingQFusionHead needs at least two '
                             f'modalities, got {self.modalities}.')
        self.projections = ModalityProjection(self.in_channels, fusion_dim)
        fusion_dim = self.projections.fusion_dim
        if not isinstance(num_heads, int) or num_heads < 1 or \
                fusion_dim % num_heads:
            raise ValueError(f'num_heads ({num_heads!r}) must be a positive '
                             f'int dividing fusion_dim ({fusion_dim}).')
        self.fusion_dim = fusion_dim
        self.num_heads = num_heads
        self.head_dim = fusion_dim // num_heads
        self.cls_token = nn.Parameter(torch.zeros(1, 1, fusion_dim))
        trunc_normal_(self.cls_token, std=0.02)
        self.attn = CLSQueryAttention(fusion_dim, num_heads, attn_drop,
                                      proj_drop)
        self.fc_cls = nn.Linear(fusion_dim, num_classes)
        self.register_buffer('rotation', torch.eye(fusion_dim))
        self.register_buffer('num_rotations',
                             torch.zeros((), dtype=torch.long))
        self._record_in_eval = False
        self._token_counts_logged = False
        self.air_statistics = AIRStatistics(len(self.modalities), fusion_dim)

    def current_query(self) -> Tensor:
        """The rotated fusion query q = R (W_Q c + b_Q), shape (C,), in at
        least float32 also under autocast (in bfloat16 R q moves by about
        0.2 degree, in float16 by about 0.02)."""
        q_proj = self.attn.q_proj
        dtype = torch.promote_types(q_proj.weight.dtype, torch.float32)
        with torch.autocast(self.cls_token.device.type, enabled=False):
            query = F.linear(self.cls_token.view(1, -1).to(dtype),
                             q_proj.weight.to(dtype),
                             q_proj.bias.to(dtype)).view(-1)
            return self.rotation.to(dtype) @ query

    @torch.no_grad()
    def apply_rotation(self, rotation: Tensor) -> None:
        """Compose a rotation on the left: R <- R_new R, count += 1.

        Args:
            rotation (Tensor): R_new, orthogonal (C, C), any float dtype.
        """
        size = (self.fusion_dim, self.fusion_dim)
        if tuple(rotation.shape) != size:
            raise ValueError(f'apply_rotation expects a {size} matrix, got '
                             f'{tuple(rotation.shape)}.')
        new = rotation.detach().to(self.rotation.device, torch.float64)
        if not torch.isfinite(new).all():
            raise ValueError('apply_rotation got NaN or inf values.')
        error = float((new.T @ new - torch.eye(
            self.fusion_dim, dtype=torch.float64,
            device=new.device)).abs().max())
        if error > ORTHOGONALITY_TOLERANCE:
            raise ValueError('apply_rotation expects an orthogonal matrix; '
                             f'|RᵀR - I| = {error:.3g}.')
        composed = new @ self.rotation.to(torch.float64)
        self.rotation.copy_(composed.to(self.rotation.dtype))
        self.num_rotations += 1

    def _load_from_state_dict(self, state_dict: dict, prefix: str,
                              local_metadata: dict, strict: bool,
                              missing_keys: List[str], *args,
                              **kwargs) -> None:
        """Load, and say what the checkpoint holds of the RollingQ state.

        A checkpoint with ``rotation`` and ``num_rotations`` (any run of this
        head, rotating or not) loads them and logs how many rotations it
        carries. One without both (a fusion head saved without RollingQ
        state) loads with the identity rotation and a count of 0, logged as
        a warning instead of reported as missing keys. Projections saved
        directly under the head (``q_proj.weight``, ...) load into ``attn``
        (docs/interfaces.md).
        """
        for name in ATTENTION_PARAMETERS:
            if prefix + name in state_dict and \
                    prefix + 'attn.' + name not in state_dict:
                state_dict[prefix + 'attn.' + name] = state_dict.pop(
                    prefix + name)
        keys = (prefix + 'rotation', prefix + 'num_rotations')
        present = [key for key in keys if key in state_dict]
        if len(present) == 1:
            raise ValueError(
                f'The checkpoint has {present[0]} but not '
                f'{(set(keys) - set(present)).pop()}: the rotation and its '
                'count are saved together.')
        if present:
            count = int(state_dict[keys[1]])
            print_log(
                f'The checkpoint carries {count} rotation(s) of the fusion '
                f'query ({keys[0]}, {keys[1]}={count}); loaded'
                + (', so the query is rotated as in that run.'
                   if count else ' (identity rotation).'),
                logger='current')
        super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                      strict, missing_keys, *args, **kwargs)
        if not present:
            with torch.no_grad():
                self.rotation.copy_(torch.eye(self.fusion_dim))
                self.num_rotations.zero_()
            missing_keys[:] = [k for k in missing_keys if k not in keys]
            print_log(
                f'The checkpoint has no {keys[0]} / {keys[1]} (a fusion head '
                'saved without RollingQ state): the fusion query keeps the '
                'identity rotation and a rotation count of 0.',
                logger='current', level=logging.WARNING)

    def forward_fusion(self, feats: Dict[str, Tensor]
                       ) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Fused logits and attention extras.

        Args:
            feats (dict): One tensor (B, L_m, C_m) per modality.

        Returns:
            tuple: Logits (B, K) and extras ``air`` (batch AIR, 0-dim),
            ``attn_share`` (B, M), ``attn_share_norm`` (B, M) and
            ``modality_cos`` (B, M).
        """
        tokens = self.projections(feats)
        batch = tokens[0].shape[0]
        sequences = [
            self.cls_token.expand(batch, -1, -1).to(tokens[0].dtype)
        ] + tokens
        query = self.current_query()
        fused, attention, means = self.attn(query, sequences)
        logits = self.fc_cls(fused)
        lengths = [sequence.shape[1] for sequence in tokens]
        if not self._token_counts_logged:
            self._log_token_counts(lengths)
        return logits, self.attention_statistics(query, means[:, 1:],
                                                 attention, lengths)

    def _log_token_counts(self, lengths: List[int]) -> None:
        """Log L_m per modality and the raw shares uniform attention gives
        (once per process)."""
        total = 1 + sum(lengths)
        counts = ', '.join(f'{name} {length}'
                           for name, length in zip(self.modalities, lengths))
        uniform = ' / '.join(f'{length / total:.3f}' for length in lengths)
        print_log(
            f'RollingQFusionHead: tokens per modality: {counts} (+1 fusion '
            f'token). Raw attention shares (attn_<m>) follow token counts: '
            f'uniform attention gives {uniform}; norm_attn_<m> = '
            f'(attn_<m> / L_m) / sum_j (attn_j / L_j) gives '
            f'{1 / len(lengths):.3f} each.',
            logger='current')
        self._token_counts_logged = True

    @torch.no_grad()
    def record_probes(self, logits: Dict[str, Tensor],
                      labels: Tensor) -> None:
        """In training mode (or inside :meth:`recording_statistics`), add
        each probe's top-1 hits to :attr:`air_statistics`."""
        if self.training or self._record_in_eval:
            hits = torch.stack([logits[name].argmax(dim=-1) == labels
                                for name in self.modalities], dim=1)
            self.air_statistics.update_probes(hits)

    @contextmanager
    def recording_statistics(self) -> Iterator[None]:
        """Within this context, forwards in eval mode also add to
        :attr:`air_statistics` (training forwards always do)."""
        self._record_in_eval = True
        try:
            yield
        finally:
            self._record_in_eval = False

    @torch.no_grad()
    def attention_statistics(self, query: Tensor, token_means: Tensor,
                             attention: Tensor,
                             lengths: List[int]) -> Dict[str, Tensor]:
        """Monitoring values of one forward; in training mode (or inside
        :meth:`recording_statistics`) also adds them to
        :attr:`air_statistics`.

        The mean key of a modality is W_K (mean of its tokens) + b_K.

        Args:
            query (Tensor): q, shape (C,).
            token_means (Tensor): Each modality's mean token, (B, M, C).
            attention (Tensor): The fusion token's attention over
                [CLS; tokens], (B, H, L), before dropout.
            lengths (list[int]): L_m of each modality, in order.

        Returns:
            dict: ``air`` (batch AIR, 0-dim), ``attn_share`` (B, M),
            ``attn_share_norm`` (B, M) and ``modality_cos`` (B, M).
        """
        mean_keys = self.attn.k_proj(token_means)
        cosines = modality_cosines(query.detach(), mean_keys)
        token_attention = attention.detach().mean(dim=1)[:, 1:]
        share = torch.stack([
            chunk.sum(dim=-1)
            for chunk in token_attention.split(lengths, dim=1)
        ], dim=1)
        share_norm = token_normalised_share(share, lengths)
        if self.training or self._record_in_eval:
            self.air_statistics.update(mean_keys, cosines, share, share_norm)
        return {
            'air': attention_imbalance_rate(cosines),
            ATTN_SHARE_KEY: share,
            ATTN_SHARE_NORM_KEY: share_norm,
            COSINE_KEY: cosines
        }
