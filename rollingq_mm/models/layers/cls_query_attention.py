"""Attention of a single query vector over token sequences."""
from typing import List, Tuple

import torch
import torch.nn as nn
from torch import Tensor


class CLSQueryAttention(nn.Module):
    """The [CLS] row of multi-head attention, for one query shared by a batch.

    For a query q (C,) and the token sequences s = [s_1; ...; s_S], each
    (B, L_s, C), with H heads of d = C / H channels::

        a_h = softmax(K_h q_h / sqrt(d)),   K = W_K s + b_K      (B, H, L)
        out = W_O (dropout(a) V),           V = W_V s + b_V      (B, C)
        out = dropout(out)

    K, V and an (L, L) matrix are never formed: K_h q_h is evaluated as
    s · (W_K,hᵀ q_h) + b_K,h · q_h and a_h V_h as
    W_V,h (Σ_l a_hl s_l) + b_V,h Σ_l a_hl (exact also when dropout makes
    Σ_l a_hl != 1). That costs O(L C) per sample instead of the O(L C²) of
    the projections and the O(L² C) of full attention. The same pass over
    the tokens yields each sequence's mean token.

    The query projection ``q_proj`` (W_Q, b_Q) is part of the layer; the
    caller builds the query with it (e.g. from a learnable token, then
    rotated) and passes it to :meth:`forward`.

    Args:
        dim (int): C, the width of the tokens and of the output.
        num_heads (int): H; must divide ``dim``. Defaults to 1.
        attn_drop (float): Dropout on the attention weights, in [0, 1).
            Defaults to 0.0.
        proj_drop (float): Dropout after W_O, in [0, 1). Defaults to 0.0.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int = 1,
                 attn_drop: float = 0.0,
                 proj_drop: float = 0.0) -> None:
        super().__init__()
        if not isinstance(dim, int) or dim < 1:
            raise ValueError(f'dim must be a positive int, got {dim!r}.')
        if not isinstance(num_heads, int) or num_heads < 1 or \
                dim % num_heads:
            raise ValueError(f'num_heads ({num_heads!r}) must be a positive '
                             f'int dividing dim ({dim}).')
        for key, value in (('attn_drop', attn_drop), ('proj_drop',
                                                      proj_drop)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f'{key} must be in [0, 1), got {value}.')
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)

    def attention(self, query: Tensor, sequences: List[Tensor]) -> Tensor:
        """Attention probabilities of the query, per head.

        Args:
            query (Tensor): q, shape (C,).
            sequences (list[Tensor]): Token sequences (B, L_s, C), in order.

        Returns:
            Tensor: softmax over the L = Σ L_s positions, (B, H, L).
        """
        heads, dim = self.num_heads, self.head_dim
        scaled_query = query.view(heads, dim) * dim**-0.5
        key_query = torch.einsum(
            'hdc,hd->hc', self.k_proj.weight.view(heads, dim, -1),
            scaled_query)
        key_bias = (self.k_proj.bias.view(heads, dim) * scaled_query).sum(-1)
        logits = torch.cat([
            torch.einsum('blc,hc->bhl', sequence, key_query)
            for sequence in sequences
        ], dim=-1)
        return (logits + key_bias[:, None]).softmax(dim=-1)

    def attend(self, attention: Tensor,
               sequences: List[Tensor]) -> Tuple[Tensor, Tensor]:
        """Attention-weighted values, and each sequence's mean token.

        The product with each sequence carries one more row of uniform
        weights, so the same pass over the tokens yields the mean token.

        Args:
            attention (Tensor): Weights (B, H, L), after dropout.
            sequences (list[Tensor]): As in :meth:`attention`.

        Returns:
            tuple: Values a V (B, C) with the heads concatenated (before
            W_O), and the detached mean token of each sequence (B, S, C).
        """
        heads, dim = self.num_heads, self.head_dim
        chunks = attention.split([seq.shape[1] for seq in sequences], dim=-1)
        mixed, means = 0, []
        for chunk, sequence in zip(chunks, sequences):
            uniform = chunk.new_full((chunk.shape[0], 1, chunk.shape[2]),
                                     1.0 / chunk.shape[2])
            product = torch.einsum('bhl,blc->bhc',
                                   torch.cat([chunk, uniform], dim=1),
                                   sequence)
            mixed = mixed + product[:, :heads]
            means.append(product[:, heads].detach())
        values = torch.einsum('hdc,bhc->bhd',
                              self.v_proj.weight.view(heads, dim, -1), mixed)
        values = values + self.v_proj.bias.view(heads, dim) * attention.sum(
            dim=-1, keepdim=True)
        return (values.reshape(attention.shape[0], self.dim),
                torch.stack(means, dim=1))

    def forward(self, query: Tensor,
                sequences: List[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
        """The query's attention output.

        Args:
            query (Tensor): q, shape (C,).
            sequences (list[Tensor]): Token sequences (B, L_s, C), in order.

        Returns:
            tuple: The output (B, C), the attention (B, H, L) before dropout
            and the detached mean token of each sequence (B, S, C).
        """
        attention = self.attention(query, sequences)
        values, means = self.attend(self.attn_drop(attention), sequences)
        return self.proj_drop(self.out_proj(values)), attention, means
