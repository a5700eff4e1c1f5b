"""Balancing methods beside RollingQ: their maths and per-step statistics."""
from .ogm_ge import (OGMScores, discrepancy_ratios,  # noqa: F401
                     gradient_noise_std, modulate_gradient_,
                     modulation_coefficients, true_class_scores)
from .pmr import (PMRRegulariser, class_sums,  # noqa: F401
                  imbalance_ratio, momentum_prototypes, pmr_coefficients,
                  prototype_cross_entropy, prototype_entropy,
                  prototype_logits)
