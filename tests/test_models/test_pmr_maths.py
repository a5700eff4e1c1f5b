"""PMR's maths against an independent float64 computation on tiny tensors."""
import math

import pytest
import torch

from rollingq_mm.models import ConcatFusionHead
from rollingq_mm.models.balancing import (PMRRegulariser, class_sums,
                                          imbalance_ratio,
                                          momentum_prototypes,
                                          pmr_coefficients,
                                          prototype_cross_entropy,
                                          prototype_entropy,
                                          prototype_logits)

K, C = 3, 4


def tiny_batch(seed: int = 0, batch: int = 7):
    generator = torch.Generator().manual_seed(seed)
    feats = torch.randn(batch, C, dtype=torch.float64, generator=generator)
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0][:batch])
    return feats, labels


def loop_logits(feats, prototypes):
    """-||z_i - c_k|| with Python loops."""
    return torch.tensor([[
        -math.sqrt(sum((float(z[j]) - float(c[j]))**2 for j in range(C)))
        for c in prototypes
    ] for z in feats], dtype=torch.float64)


def loop_softmax(row):
    top = max(float(v) for v in row)
    exps = [math.exp(float(v) - top) for v in row]
    return [e / sum(exps) for e in exps]


def test_prototypes_are_class_means_smoothed_by_momentum():
    feats, labels = tiny_batch()
    sums, counts = class_sums(feats, labels, K)
    assert counts.tolist() == [3.0, 2.0, 2.0]
    first = momentum_prototypes(sums, counts, None, momentum=0.2)
    for k in range(K):
        members = [feats[i] for i in range(len(labels)) if labels[i] == k]
        mean = torch.stack(members).sum(0) / len(members)
        assert torch.allclose(first[k], mean, atol=1e-12)
    new_feats, _ = tiny_batch(seed=1)
    sums, counts = class_sums(new_feats, labels, K)
    second = momentum_prototypes(sums, counts, first, momentum=0.2)
    for k in range(K):
        members = [new_feats[i] for i in range(len(labels)) if labels[i] == k]
        mean = torch.stack(members).sum(0) / len(members)
        # Eq. 12: c = eps c_old + (1 - eps) c_new.
        assert torch.allclose(second[k], 0.2 * first[k] + 0.8 * mean,
                              atol=1e-12)


def test_a_class_missing_from_the_subset_keeps_its_prototype():
    feats, labels = tiny_batch()
    keep = labels != 2
    sums, counts = class_sums(feats[keep], labels[keep], K)
    first = momentum_prototypes(sums, counts, None, momentum=0.5)
    assert torch.allclose(first[2], feats[keep].mean(0), atol=1e-12)
    previous = torch.ones(K, C, dtype=torch.float64)
    second = momentum_prototypes(sums, counts, previous, momentum=0.5)
    assert torch.equal(second[2], previous[2])


def test_prototype_logits_are_negative_euclidean_distances():
    feats, labels = tiny_batch()
    prototypes = torch.randn(K, C, dtype=torch.float64,
                             generator=torch.Generator().manual_seed(3))
    logits = prototype_logits(feats, prototypes)
    assert logits.dtype == torch.float64
    assert torch.allclose(logits, loop_logits(feats, prototypes), atol=1e-12)
    expected_ce = -sum(
        math.log(loop_softmax(row)[int(y)])
        for row, y in zip(loop_logits(feats, prototypes), labels)) / 7
    assert math.isclose(float(prototype_cross_entropy(logits, labels)),
                        expected_ce, rel_tol=1e-12)
    expected_h = sum(-sum(p * math.log(p) for p in loop_softmax(row))
                     for row in loop_logits(feats, prototypes)) / 7
    assert math.isclose(float(prototype_entropy(logits)), expected_h,
                        rel_tol=1e-12)


@pytest.mark.parametrize('ratio,beta,gamma', [
    (0.25, 1.0, 0.0),   # 1/rho - 1 = 3, clipped to 1
    (0.8, 0.25, 0.0),
    (1.0, 0.0, 0.0),
    (1.5, 0.0, 0.5),
    (3.0, 0.0, 1.0),    # rho - 1 = 2, clipped to 1
])
def test_coefficients_follow_eq_11(ratio, beta, gamma):
    coefs = pmr_coefficients(torch.tensor(ratio, dtype=torch.float64))
    assert coefs.tolist() == pytest.approx([beta, gamma], abs=1e-12)


def test_an_undefined_ratio_gives_no_term():
    ratio = imbalance_ratio(torch.zeros(2, dtype=torch.float64))
    assert pmr_coefficients(ratio).tolist() == [0.0, 0.0]
    ratio = imbalance_ratio(torch.tensor([1.0, 0.0], dtype=torch.float64))
    assert pmr_coefficients(ratio).tolist() == [0.0, 1.0]


def test_imbalance_ratio_is_the_ratio_of_true_class_score_sums():
    assert float(imbalance_ratio(torch.tensor([3.0, 1.5]))) == 2.0


def reference_terms(pooled, labels, prototypes, alpha, mu, entropy):
    """Eqs. 7-13 by hand: per modality alpha coef PCE - mu coef' H."""
    rows = {m: loop_logits(pooled[m], prototypes[m]) for m in pooled}
    probs = {m: [loop_softmax(r) for r in rows[m]] for m in pooled}
    scores = [sum(p[int(y)] for p, y in zip(probs[m], labels))
              for m in ('audio', 'visual')]
    ratio = scores[0] / scores[1]
    if ratio < 1:
        coefs = [min(max(1 / ratio - 1, 0.0), 1.0), 0.0]
    else:
        coefs = [0.0, min(max(ratio - 1, 0.0), 1.0)]
    terms = {}
    for index, m in enumerate(('audio', 'visual')):
        pce = -sum(math.log(p[int(y)])
                   for p, y in zip(probs[m], labels)) / len(labels)
        ent = sum(-sum(q * math.log(q) for q in p)
                  for p in probs[m]) / len(labels)
        terms[m] = alpha * coefs[index] * pce - \
            (mu * coefs[1 - index] * ent if entropy else 0.0)
    return ratio, coefs, terms


@pytest.mark.parametrize('entropy', [False, True])
def test_regulariser_terms_equal_eqs_10_and_13(entropy):
    generator = torch.Generator().manual_seed(5)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    centres = torch.randn(K, C, dtype=torch.float64, generator=generator)
    # Audio near its class centres, visual noise: audio dominates (rho > 1).
    pooled = dict(
        audio=(3 * centres[labels] + 0.3 * torch.randn(
            6, C, dtype=torch.float64, generator=generator)),
        visual=torch.randn(6, C, dtype=torch.float64, generator=generator))
    regulariser = PMRRegulariser(['audio', 'visual'], K, alpha=2.0, mu=0.1,
                                 momentum=0.2)
    sums = {}
    for m, value in pooled.items():
        sums[m], counts = class_sums(value, labels, K)
    regulariser.update_prototypes(sums, counts)
    regulariser.active = True
    regulariser.entropy_active = entropy
    inputs = {m: v.clone().requires_grad_() for m, v in pooled.items()}
    losses = regulariser(inputs, labels)
    ratio, coefs, terms = reference_terms(
        pooled, labels, regulariser.prototypes, 2.0, 0.1, entropy)
    assert ratio > 1 and coefs[1] > 0
    for m in ('audio', 'visual'):
        assert math.isclose(float(losses[f'loss_pmr_{m}'].detach()), terms[m],
                            rel_tol=1e-10, abs_tol=1e-12)
    # PMR trains the encoder: the slower (visual) features get a gradient.
    losses['loss_pmr_visual'].backward()
    assert inputs['visual'].grad.abs().sum() > 0
    scalars = regulariser.epoch_scalars()
    assert scalars['ratio'] == pytest.approx(ratio, rel=1e-12)
    assert scalars['coef_visual'] == pytest.approx(coefs[1], rel=1e-12)
    hits = (loop_logits(pooled['audio'], regulariser.prototypes['audio'])
            .argmax(1) == labels).double().mean()
    assert scalars['proto_acc_audio'] == pytest.approx(float(hits))


def test_inactive_or_unprimed_regulariser_adds_nothing():
    regulariser = PMRRegulariser(['audio', 'visual'], K)
    feats, labels = tiny_batch(batch=6)
    regulariser.active = True
    assert regulariser(dict(audio=feats, visual=feats), labels) == {}


def test_three_modalities_are_refused():
    with pytest.raises(ValueError, match='two modalities'):
        PMRRegulariser(['a', 'b', 'c'], K)


def test_bf16_autocast_keeps_the_prototype_distances_in_float32():
    """Features computed under bfloat16 autocast reach PMR as bfloat16; the
    distances, probabilities and losses are float32 and equal a float32
    computation on the same (bf16-rounded) features."""
    torch.manual_seed(0)
    head = ConcatFusionHead(num_classes=K, in_channels=C, init_cfg=None)
    regulariser = PMRRegulariser(head.modalities, K, mu=0.1)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    tokens = {m: 5 * torch.randn(6, 3, C) for m in head.modalities}
    sums = {}
    for m, value in tokens.items():
        sums[m], counts = class_sums(value.mean(1), labels, K)
    regulariser.update_prototypes(sums, counts)
    regulariser.active = regulariser.entropy_active = True
    encoder = torch.nn.Linear(C, C)
    torch.nn.init.eye_(encoder.weight)
    torch.nn.init.zeros_(encoder.bias)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        pooled = {m: encoder(tokens[m].mean(1)) for m in head.modalities}
        assert pooled['audio'].dtype == torch.bfloat16
        logits = prototype_logits(pooled['audio'],
                                  regulariser.prototypes['audio'].float())
        losses = regulariser(pooled, labels)
    assert logits.dtype == torch.float32
    expected = prototype_logits(pooled['audio'].float(),
                                regulariser.prototypes['audio'].float())
    assert torch.equal(logits, expected)
    reference = regulariser({m: v.float() for m, v in pooled.items()}, labels)
    for key, value in losses.items():
        assert value.dtype == torch.float32, key
        assert torch.allclose(value, reference[key], rtol=1e-6), key


def test_head_loss_adds_the_regulariser_terms_on_pooled_features():
    torch.manual_seed(0)
    head = ConcatFusionHead(num_classes=K, in_channels=C, init_cfg=None)
    from mmaction.structures import ActionDataSample
    samples = [ActionDataSample().set_gt_label(k) for k in (0, 1, 2, 0)]
    tokens = {m: torch.randn(4, 3, C, requires_grad=True)
              for m in head.modalities}
    seen = {}

    def regulariser(pooled, labels):
        seen.update(pooled=pooled, labels=labels)
        return dict(loss_pmr_audio=pooled['audio'].sum())

    head.feature_regulariser = regulariser
    losses = head.loss(tokens, samples)
    assert torch.equal(seen['labels'], torch.tensor([0, 1, 2, 0]))
    assert torch.equal(seen['pooled']['visual'],
                       tokens['visual'].mean(1))
    losses['loss_pmr_audio'].backward()
    assert tokens['audio'].grad is not None  # not detached
