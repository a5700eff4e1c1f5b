"""PMR: prototypical modal rebalance, as pure maths and a loss regulariser.

Fan et al., "PMR: Prototypical Modal Rebalance for Multimodal Learning",
CVPR 2023 (https://arxiv.org/abs/2211.07089). For two modalities m in
{0, 1} (the head's order) with pooled encoder features z^m (B, C_m):

* prototypes (Eq. 6): c_k^m = mean of z^m over the samples of class k,
  computed on a subset of the training data at each epoch start and
  smoothed by momentum (Eq. 12): c <- eps * c_old + (1 - eps) * c_new;
* prototype probabilities (Eq. 7): p^m(k | x) = softmax_k(-d(z^m, c_k^m))
  with d the Euclidean distance;
* imbalance ratio (Eq. 8): rho = sum_{i in B} p^0(y_i | x_i) /
  sum_{i in B} p^1(y_i | x_i) over the training batch;
* coefficients (Eq. 11): rho < 1: beta = clip(1/rho - 1, 0, 1), gamma = 0;
  rho >= 1: beta = 0, gamma = clip(rho - 1, 0, 1);
* loss (Eqs. 9, 10, 13): L = L_CE + alpha beta PCE^0 + alpha gamma PCE^1
  - mu gamma H^0 - mu beta H^1, PCE^m the cross-entropy of the prototype
  logits, H^m the mean entropy of p^m; the entropy terms (PER) only in the
  first epochs.

The functions compute in at least float32 whatever the autocast dtype;
:class:`PMRRegulariser` holds the prototypes as plain tensors (not module
buffers that DDP would broadcast) and is called by the fusion head's
``loss`` with the pooled features.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine import dist
from torch import Tensor


def prototype_logits(feats: Tensor, prototypes: Tensor) -> Tensor:
    """Negative Euclidean distances to the prototypes (Eq. 7's logits).

    Args:
        feats (Tensor): Pooled features z (B, C), any floating dtype.
        prototypes (Tensor): Class prototypes c (K, C).

    Returns:
        Tensor: -d(z_i, c_k) (B, K), in float32 or float64 (the wider of the
        inputs' dtype and float32), differentiable with respect to ``feats``
        (zero gradient at zero distance).
    """
    dtype = torch.promote_types(
        torch.promote_types(feats.dtype, prototypes.dtype), torch.float32)
    with torch.autocast(feats.device.type, enabled=False):
        return -torch.cdist(
            feats.to(dtype)[None], prototypes.to(dtype)[None],
            compute_mode='donot_use_mm_for_euclid_dist')[0]


def class_sums(feats: Tensor, labels: Tensor,
               num_classes: int) -> Tuple[Tensor, Tensor]:
    """Per-class sums of features and counts, in float64.

    Args:
        feats (Tensor): Features (B, C).
        labels (Tensor): Class indices (B,).
        num_classes (int): K.

    Returns:
        tuple: Sums (K, C) and counts (K,), float64.
    """
    sums = feats.new_zeros(num_classes, feats.shape[1], dtype=torch.float64)
    sums.index_add_(0, labels, feats.detach().to(torch.float64))
    counts = torch.bincount(labels, minlength=num_classes).to(sums)
    return sums, counts


def momentum_prototypes(sums: Tensor, counts: Tensor,
                        previous: Optional[Tensor],
                        momentum: float) -> Tensor:
    """New prototypes (Eq. 6) smoothed with the previous ones (Eq. 12).

    c = eps * c_old + (1 - eps) * c_new with eps = ``momentum``. A class
    without a sample in the subset keeps its previous prototype; without a
    previous one it gets the mean of all the subset's features (a neutral
    point between the classes).

    Args:
        sums (Tensor): Per-class feature sums (K, C).
        counts (Tensor): Per-class counts (K,).
        previous (Tensor, optional): c_old (K, C), None at the first pass.
        momentum (float): eps in [0, 1).

    Returns:
        Tensor: Prototypes (K, C) in the dtype of ``sums``.
    """
    if counts.sum() <= 0:
        raise ValueError('PMR prototypes: the subset has no sample.')
    seen = counts > 0
    new = sums / counts.clamp_min(1)[:, None]
    if previous is None:
        fill = sums.sum(0) / counts.sum()
        return torch.where(seen[:, None], new, fill)
    previous = previous.to(new)
    smoothed = momentum * previous + (1.0 - momentum) * new
    return torch.where(seen[:, None], smoothed, previous)


def imbalance_ratio(true_class_scores: Tensor) -> Tensor:
    """rho (Eq. 8) from the summed true-class probabilities of both
    modalities.

    Args:
        true_class_scores (Tensor): (2,) sum_i p^m(y_i | x_i) for m = 0, 1.

    Returns:
        Tensor: 0-dim rho = s^0 / s^1.
    """
    return true_class_scores[0] / true_class_scores[1]


def pmr_coefficients(ratio: Tensor) -> Tensor:
    """(beta, gamma) of Eq. 11.

    Args:
        ratio (Tensor): 0-dim rho.

    Returns:
        Tensor: (2,) beta (weight of PCE^0 and of H^1) and gamma (weight of
        PCE^1 and of H^0): rho < 1 gives (clip(1/rho - 1, 0, 1), 0),
        rho >= 1 gives (0, clip(rho - 1, 0, 1)); an undefined rho (0 / 0,
        both true-class probabilities underflowed) gives (0, 0).
    """
    zero = torch.zeros_like(ratio)
    if torch.isnan(ratio):
        return torch.stack([zero, zero])
    if ratio < 1:
        return torch.stack([(1.0 / ratio - 1.0).clamp(0.0, 1.0), zero])
    return torch.stack([zero, (ratio - 1.0).clamp(0.0, 1.0)])


def prototype_cross_entropy(logits: Tensor, labels: Tensor) -> Tensor:
    """PCE (Eq. 9): mean over samples of -log softmax(logits)[y].

    Args:
        logits (Tensor): -d(z, c) (B, K).
        labels (Tensor): (B,).

    Returns:
        Tensor: 0-dim loss.
    """
    return F.cross_entropy(logits, labels)


def prototype_entropy(logits: Tensor) -> Tensor:
    """Mean over samples of H(softmax(logits)), the entropy of Eq. 13.

    Args:
        logits (Tensor): -d(z, c) (B, K).

    Returns:
        Tensor: 0-dim mean entropy (nats).
    """
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(-1).mean()


class PMRRegulariser:
    """The PMR loss terms of a fusion head, configured by ``PMRHook``.

    Implements PMR (Fan et al., CVPR 2023,
    https://arxiv.org/abs/2211.07089) for two modalities. The fusion head
    calls it in ``loss`` with its pooled features z^m (B, C_m) (not
    detached: PMR trains the encoders) and gets
    ``loss_pmr_<m> = alpha coef_m PCE^m - mu coef_other H^m`` (the entropy
    part only while ``entropy_active``), with (coef_0, coef_1) = (beta,
    gamma) of Eq. 11 from the batch's rho (Eq. 8). The true-class score
    sums behind rho are summed over all ranks, so every rank uses the rho of
    the global batch and the same coefficients. It also sums, over the
    epoch, rho, the coefficients and the prototype classifier's hits for
    the hook's epoch scalars.

    Args:
        modalities (Sequence[str]): The two modality names, in the head's
            order.
        num_classes (int): K.
        alpha (float): alpha of Eq. 10. Defaults to 1.0.
        mu (float): mu of Eq. 13. Defaults to 0.01.
        momentum (float): eps of Eq. 12. Defaults to 0.2.
    """

    def __init__(self, modalities: Sequence[str], num_classes: int,
                 alpha: float = 1.0, mu: float = 0.01,
                 momentum: float = 0.2) -> None:
        if len(modalities) != 2:
            raise ValueError('PMR is defined for two modalities (Eq. 8 is a '
                             f'ratio), got {list(modalities)}.')
        self.modalities = list(modalities)
        self.num_classes = num_classes
        self.alpha = alpha
        self.mu = mu
        self.momentum = momentum
        self.prototypes: Optional[Dict[str, Tensor]] = None
        self.active = False
        self.entropy_active = False
        self.reset_epoch()

    def reset_epoch(self) -> None:
        """Forget the epoch sums of the scalars."""
        self.epoch_sums: Optional[Dict[str, Tensor]] = None

    def update_prototypes(self, sums: Dict[str, Tensor],
                          counts: Tensor) -> None:
        """Eqs. 6 and 12 from the subset's (reduced) class sums.

        Args:
            sums (dict): Modality -> per-class sums (K, C_m).
            counts (Tensor): Per-class counts (K,).
        """
        previous = self.prototypes or {}
        self.prototypes = {
            m: momentum_prototypes(sums[m], counts, previous.get(m),
                                   self.momentum)
            for m in self.modalities
        }

    def __call__(self, pooled: Dict[str, Tensor],
                 labels: Tensor) -> Dict[str, Tensor]:
        """The loss terms of one training batch.

        Args:
            pooled (dict): Modality -> pooled features (B, C_m).
            labels (Tensor): (B,).

        Returns:
            dict: ``loss_pmr_<m>`` per modality, or empty when inactive or
            before the first prototypes.
        """
        if not self.active or self.prototypes is None:
            return {}
        with torch.autocast(labels.device.type, enabled=False):
            return self._losses(pooled, labels)

    def _losses(self, pooled: Dict[str, Tensor],
                labels: Tensor) -> Dict[str, Tensor]:
        """:meth:`__call__` outside autocast (float32 or wider)."""
        logits = [
            prototype_logits(
                pooled[m], self.prototypes[m].to(
                    pooled[m].device,
                    torch.promote_types(pooled[m].dtype, torch.float32)))
            for m in self.modalities
        ]
        with torch.no_grad():
            probs = [lg.softmax(-1) for lg in logits]
            stats = torch.stack([
                *(p.gather(1, labels[:, None]).sum() for p in probs),
                *((lg.argmax(-1) == labels).sum().to(lg) for lg in logits),
                torch.full((), labels.numel(), device=labels.device,
                           dtype=logits[0].dtype)
            ]).to(torch.float64)
            dist.all_reduce(stats, op='sum')
            ratio = imbalance_ratio(stats[:2])
            coefs = pmr_coefficients(ratio)
            self._accumulate(ratio, coefs, stats[2:4], stats[4])
        losses = {}
        for index, name in enumerate(self.modalities):
            loss = self.alpha * coefs[index].to(logits[index]) * \
                prototype_cross_entropy(logits[index], labels)
            if self.entropy_active:
                loss = loss - self.mu * coefs[1 - index].to(logits[index]) * \
                    prototype_entropy(logits[index])
            losses[f'loss_pmr_{name}'] = loss
        return losses

    def _accumulate(self, ratio: Tensor, coefs: Tensor, hits: Tensor,
                    count: Tensor) -> None:
        """Add a batch's (already global) scalars to the epoch sums."""
        batch = dict(ratio=ratio.reshape(1), coefs=coefs, hits=hits,
                     count=count.reshape(1),
                     steps=torch.ones_like(count).reshape(1))
        if self.epoch_sums is None:
            self.epoch_sums = batch
        else:
            for key, value in batch.items():
                self.epoch_sums[key] = self.epoch_sums[key] + value

    def epoch_scalars(self) -> Dict[str, float]:
        """Epoch means: ``ratio``, ``coef_<m>``, ``proto_acc_<m>`` (the
        prototype classifier's top-1 over the epoch's training samples of
        all ranks); empty when no batch was regularised."""
        if self.epoch_sums is None:
            return {}
        sums = self.epoch_sums
        steps = float(sums['steps'])
        scalars = dict(ratio=float(sums['ratio']) / steps)
        for index, name in enumerate(self.modalities):
            scalars[f'coef_{name}'] = float(sums['coefs'][index]) / steps
        for index, name in enumerate(self.modalities):
            scalars[f'proto_acc_{name}'] = float(
                sums['hits'][index]) / float(sums['count'])
        return scalars
