"""RollingQFusionHead against the fusion layer of the paper and its release,
built here from the paper's equations (one head, full L x L attention over
[c; x_audio; x_visual], Xavier-normal Linears with zero bias, the rotation
from the SVD of the rank-1 map), with the same weights, in float64."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.structures import ActionDataSample

from rollingq_mm.models import RollingQFusionHead
from rollingq_mm.models.rollingq import (anchor_target, anchor_weights,
                                         svd_rotation)

C, K, B = 16, 5, 6
LENGTHS = dict(audio=7, visual=9)


class PaperFusionLayer(nn.Module):
    """The paper's fusion layer, written out as its equations read."""

    def __init__(self) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.randn(1, 1, C) * 0.02)
        self.w_q, self.w_k, self.w_v, self.w_o = (nn.Linear(C, C)
                                                  for _ in range(4))
        self.fc = nn.Linear(C, K)
        for linear in (self.w_q, self.w_k, self.w_v, self.w_o, self.fc):
            nn.init.xavier_normal_(linear.weight)
            nn.init.zeros_(linear.bias)
        self.register_buffer('rotation', torch.eye(C))

    def forward(self, audio, visual):
        """Logits (B, K), keys (B, L, C), the rotated query (C,)."""
        sequence = torch.cat([self.cls.expand(audio.shape[0], -1, -1),
                              audio, visual], dim=1)
        queries = self.w_q(sequence) @ self.rotation.T
        keys, values = self.w_k(sequence), self.w_v(sequence)
        attention = (queries @ keys.transpose(1, 2) / math.sqrt(C)).softmax(-1)
        fused = self.w_o((attention @ values)[:, 0])
        query = self.rotation @ self.w_q(self.cls.view(C))
        return self.fc(fused), keys, query

    def air(self, keys, query):
        """AIR = E_i[cos(q, kbar_i^a) - cos(q, kbar_i^v)] and E_m."""
        audio = keys[:, 1:1 + LENGTHS['audio']].mean(1)
        visual = keys[:, 1 + LENGTHS['audio']:].mean(1)
        cos_a = F.cosine_similarity(audio, query[None], dim=-1)
        cos_v = F.cosine_similarity(visual, query[None], dim=-1)
        return (cos_a - cos_v).mean(), audio.mean(0), visual.mean(0), (
            cos_a.mean(), cos_v.mean())


def pair():
    """The paper's layer and the project's head with the same weights."""
    torch.manual_seed(0)
    paper = PaperFusionLayer().double()
    head = RollingQFusionHead(num_classes=K, in_channels=C, attn_drop=0.0,
                              proj_drop=0.0).double()
    with torch.no_grad():
        head.cls_token.copy_(paper.cls)
        attn = head.attn
        for mine, theirs in ((attn.q_proj, paper.w_q),
                             (attn.k_proj, paper.w_k),
                             (attn.v_proj, paper.w_v),
                             (attn.out_proj, paper.w_o),
                             (head.fc_cls, paper.fc)):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    generator = torch.Generator().manual_seed(1)
    feats = {name: torch.randn(B, length, C, generator=generator,
                               dtype=torch.float64)
             for name, length in LENGTHS.items()}
    return paper, head, feats


def test_logits_gradients_and_batch_air_match_the_papers_layer():
    paper, head, feats = pair()
    labels = torch.arange(B) % K
    logits, keys, query = paper(feats['audio'], feats['visual'])
    F.cross_entropy(logits, labels).backward()
    samples = [ActionDataSample().set_gt_label(int(label))
               for label in labels]
    losses = head.loss(feats, samples)
    losses['loss_cls'].backward()
    mine, extras = head.forward_fusion(feats)
    assert torch.allclose(mine, logits, atol=1e-10)
    attn = head.attn
    for grad, reference in ((attn.q_proj.weight.grad, paper.w_q.weight.grad),
                            (attn.q_proj.bias.grad, paper.w_q.bias.grad),
                            (head.cls_token.grad, paper.cls.grad),
                            (attn.k_proj.weight.grad, paper.w_k.weight.grad),
                            (attn.v_proj.weight.grad, paper.w_v.weight.grad)):
        assert torch.allclose(grad, reference, atol=1e-10)
    air = paper.air(keys.detach(), query.detach())[0]
    assert float(extras['air']) == pytest.approx(float(air), abs=1e-10)
    assert float(losses['air']) == pytest.approx(float(air), abs=1e-10)


@pytest.mark.parametrize('rho', [0.0, 1.0])
def test_anchor_target_and_svd_rotated_query_match_the_paper(rho):
    """The anchor from the batch's E_m with α = ½(1 + tanh(-ρ AIR)), then
    R = U Vᵀ from the SVD of t̂ q̂ᵀ: the project's statistics, anchor and
    rotated query equal the paper's."""
    paper, head, feats = pair()
    with torch.no_grad():
        _, keys, query = paper(feats['audio'], feats['visual'])
        air, mean_a, mean_v, _ = paper.air(keys, query)
        alpha = 0.5 * (1 + torch.tanh(-rho * air))
        anchor = (alpha * mean_a / mean_a.norm()
                  + (1 - alpha) * mean_v / mean_v.norm())
        target = query.norm() * anchor / anchor.norm()
        left, _, right_t = torch.linalg.svd(
            torch.outer(target / target.norm(), query / query.norm()))
        rotated = left @ right_t @ query

        head.train()
        head.air_statistics.reset()
        head.forward_fusion(feats)
        summary = head.air_statistics.summary()
        weights = anchor_weights(summary['cosines'], rho)
        mine = anchor_target(head.current_query(), summary['mean_keys'],
                             weights)
        assert torch.allclose(summary['mean_keys'][0], mean_a, atol=1e-10)
        assert torch.allclose(summary['mean_keys'][1], mean_v, atol=1e-10)
        assert float(weights[0]) == pytest.approx(float(alpha), abs=1e-10)
        assert torch.allclose(mine, target, atol=1e-10)
        head.apply_rotation(svd_rotation(head.current_query(), mine))
        assert torch.allclose(head.current_query().double(), rotated,
                              atol=1e-6)
        paper.rotation.copy_(left @ right_t)
        logits, _, _ = paper(feats['audio'], feats['visual'])
        assert torch.allclose(head.forward_fusion(feats)[0], logits,
                              atol=1e-6)
