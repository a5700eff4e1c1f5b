# PMR (Fan et al., CVPR 2023) on the concat-fusion baseline on
# Kinetics-Sounds: the paper applies PMR to static fusion. PMRHook is the
# whole switch: it gives the fusion head its PMR loss terms (loss_pmr_<m>)
# and refreshes the class prototypes at every epoch start
# (docs/baselines/pmr.md).
#   alpha = 1, mu = 1e-2: the paper (Sec. 5.2) uses alpha in {1, 2} and mu in
#     {1e-2, 1e-3} "for different datasets" without saying which for which;
#     1 is also the authors' release default for alpha.
#   subset_ratio = 0.1: the paper's subset, a tenth of the training data.
#   momentum = 0.2: eps of Eq. 12 is not given in the paper; 0.2 (the weight
#     of the previous prototypes) is the authors' release default.
#   entropy_epochs = 5: the paper applies PER in "the first few epochs"
#     without a number; ours, a sixth to a quarter of this 30-epoch schedule.
_base_ = ['./concat_ks.py']

custom_hooks = [
    dict(type='PMRHook', alpha=1.0, mu=0.01, momentum=0.2,
         entropy_epochs=5, subset_ratio=0.1, subset_seed=0)
]
