# OGM-GE on AV-Digits: the concat-fusion baseline (concat_avdigits.py), whose
# classifier splits into one part per modality, with each tower's gradients
# modulated every optimizer step (docs/baselines/ogm_ge.md).
#   OMP_NUM_THREADS=1 python tools/train.py configs/ogm_ge_avdigits.py
_base_ = ['concat_avdigits.py']

# alpha = 0.1: the authors' default (their README; no AV-Digits value exists
# and none was tuned here). Modulation and noise over all epochs. The
# inherited schedule is AdamW, which divides each gradient by its running
# scale: the modulation acts through the changes of k between steps, much
# less than under the paper's SGD (docs/baselines/ogm_ge.md).
custom_hooks = [dict(type='OGMGEHook', alpha=0.1)]
