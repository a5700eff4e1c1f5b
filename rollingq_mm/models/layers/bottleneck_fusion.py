"""Fusion through shared bottleneck tokens (MBT)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model.weight_init import trunc_normal_
from torch import Tensor


class PreNormEncoderLayer(nn.Module):
    """A pre-norm ViT encoder layer that can also return its CLS attention.

    For tokens z (B, L, C), with H heads of d = C / H channels::

        y = z + drop(W_O MSA(LN_1(z)))
        z' = y + drop(W_2 drop(GELU(W_1 LN_2(y))))

    MSA runs through ``F.scaled_dot_product_attention``; the attention row
    of token 0 (the CLS), softmax(q_0 Kᵀ / sqrt(d)) per head, is evaluated
    on request from the same q and K, without gradient.

    Args:
        dim (int): C.
        num_heads (int): H; must divide ``dim``.
        mlp_ratio (float): Hidden width of the MLP over C. Defaults to 4.0.
        dropout (float): Dropout after W_O, in the MLP and after W_2.
            Defaults to 0.0.
        attn_drop (float): Dropout on the attention weights. Defaults to 0.0.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_ratio: float = 4.0,
                 dropout: float = 0.0,
                 attn_drop: float = 0.0) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.attn_drop = attn_drop
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, cls_attention: bool = False
                ) -> Tuple[Tensor, Optional[Tensor]]:
        """Tokens (B, L, C) -> tokens (B, L, C), and the detached CLS
        attention (B, H, L) before dropout, in at least float32, when
        ``cls_attention``, else None."""
        batch, length, dim = tokens.shape
        query, key, value = self.qkv(self.norm1(tokens)).view(
            batch, length, 3, self.num_heads,
            self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        mixed = F.scaled_dot_product_attention(
            query, key, value,
            dropout_p=self.attn_drop if self.training else 0.0)
        tokens = tokens + self.drop(
            self.proj(mixed.transpose(1, 2).reshape(batch, length, dim)))
        tokens = tokens + self.drop(
            self.fc2(self.drop(F.gelu(self.fc1(self.norm2(tokens))))))
        attention = None
        if cls_attention:
            with torch.no_grad():
                logits = torch.einsum('bhd,bhld->bhl', query[:, :, 0],
                                      key) * self.head_dim**-0.5
                attention = logits.to(torch.promote_types(
                    logits.dtype, torch.float32)).softmax(dim=-1)
        return tokens, attention


class BottleneckFusion(nn.Module):
    """Per-modality encoder layers that exchange information only through a
    few shared bottleneck tokens.

    MBT (Nagrani et al., "Attention Bottlenecks for Multimodal Fusion",
    NeurIPS 2021, https://arxiv.org/abs/2107.00135). Each modality m gets a
    learned CLS token c_m and its own encoder layers θ_m; the N bottleneck
    tokens z_fsn (learned, shared) start equal for every sample. With
    z_m^0 = [c_m; x_m] (B, 1 + L_m, C), a fusion layer l computes::

        [z_m^{l+1} || ẑ_fsn,m^{l+1}] = Transformer([z_m^l || z_fsn^l]; θ_m^l)
        z_fsn^{l+1} = Avg_m ẑ_fsn,m^{l+1}

    so tokens of one modality reach another only through z_fsn. Layers
    before ``fusion_layer`` (and all layers when ``num_bottlenecks`` is 0)
    run z_m^{l+1} = Transformer(z_m^l; θ_m^l) alone. The output is each
    modality's CLS after a shared final LayerNorm.

    Cross-modal information reaches a CLS one layer after it entered the
    bottleneck: at least two fusion layers are needed for any exchange.

    Args:
        dim (int): C, the width of every modality's tokens.
        num_modalities (int): M >= 1.
        num_layers (int): Encoder layers per modality. Defaults to 4 (the
            paper's MBT-B fuses in the last 4 of 12 layers).
        num_bottlenecks (int): N, bottleneck tokens; 0 disables the exchange
            (late fusion). Defaults to 4, as in the paper.
        num_heads (int): Attention heads; must divide ``dim``. Defaults to 8.
        mlp_ratio (float): MLP hidden width over C. Defaults to 4.0.
        dropout (float): Dropout of the layers' projections and MLPs.
            Defaults to 0.0.
        attn_drop (float): Dropout on attention weights. Defaults to 0.0.
        fusion_layer (int): L_f, index of the first layer that fuses.
            Defaults to 0 (every layer of this module fuses; the towers below
            play the paper's unimodal layers).
    """

    def __init__(self,
                 dim: int,
                 num_modalities: int,
                 num_layers: int = 4,
                 num_bottlenecks: int = 4,
                 num_heads: int = 8,
                 mlp_ratio: float = 4.0,
                 dropout: float = 0.0,
                 attn_drop: float = 0.0,
                 fusion_layer: int = 0) -> None:
        super().__init__()
        for key, value, low in (('dim', dim, 1),
                                ('num_modalities', num_modalities, 1),
                                ('num_layers', num_layers, 1),
                                ('num_bottlenecks', num_bottlenecks, 0),
                                ('fusion_layer', fusion_layer, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(
                    f'{key} must be an int >= {low}, got {value!r}.')
        if not isinstance(num_heads, int) or num_heads < 1 or dim % num_heads:
            raise ValueError(f'num_heads ({num_heads!r}) must be a positive '
                             f'int dividing dim ({dim}).')
        if mlp_ratio <= 0:
            raise ValueError(f'mlp_ratio must be > 0, got {mlp_ratio}.')
        for key, value in (('dropout', dropout), ('attn_drop', attn_drop)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f'{key} must be in [0, 1), got {value}.')
        self.num_modalities = num_modalities
        self.num_bottlenecks = num_bottlenecks
        self.fusion_layer = fusion_layer
        self.cls_tokens = nn.Parameter(torch.zeros(num_modalities, 1, dim))
        self.bottleneck = nn.Parameter(torch.zeros(1, num_bottlenecks, dim))
        trunc_normal_(self.cls_tokens, std=0.02)
        trunc_normal_(self.bottleneck, std=0.02)
        self.layers = nn.ModuleList(
            nn.ModuleList(
                PreNormEncoderLayer(dim, num_heads, mlp_ratio, dropout,
                                    attn_drop)
                for _ in range(num_modalities)) for _ in range(num_layers))
        self.norm = nn.LayerNorm(dim)

    def fuses(self, index: int) -> bool:
        """Whether layer ``index`` attends over the bottleneck tokens."""
        return index >= self.fusion_layer and self.num_bottlenecks > 0

    def forward(self, tokens: Sequence[Tensor]) -> Tuple[Tensor, Tensor]:
        """Fuse M token sequences.

        Args:
            tokens (Sequence[Tensor]): x_m (B, L_m, C) per modality.

        Returns:
            tuple: The CLS outputs (B, M, C), and the bottleneck share
            (B, M): the attention mass of each modality's CLS on the
            bottleneck tokens in the last layer, averaged over heads
            (detached; 0 when that layer does not fuse).
        """
        if len(tokens) != self.num_modalities:
            raise ValueError(f'Expected {self.num_modalities} token '
                             f'sequences, got {len(tokens)}.')
        batch = tokens[0].shape[0]
        sequences = [
            torch.cat([self.cls_tokens[m].expand(batch, -1, -1).to(x.dtype),
                       x], dim=1) for m, x in enumerate(tokens)
        ]
        bottleneck = self.bottleneck.expand(batch, -1, -1)
        last = len(self.layers) - 1
        shares: List[Tensor] = []
        for index, blocks in enumerate(self.layers):
            fuses = self.fuses(index)
            updates = []
            for m, block in enumerate(blocks):
                length = sequences[m].shape[1]
                inputs = torch.cat([sequences[m], bottleneck.to(
                    sequences[m].dtype)], dim=1) if fuses else sequences[m]
                outputs, attention = block(inputs, cls_attention=index == last)
                sequences[m] = outputs[:, :length]
                updates.append(outputs[:, length:])
                if index == last:
                    shares.append(attention.mean(dim=1)[:, length:].sum(-1))
            if fuses:
                bottleneck = torch.stack(updates).mean(dim=0)
        cls = self.norm(torch.stack([seq[:, 0] for seq in sequences], dim=1))
        return cls, torch.stack(shares, dim=1)
