# OGM-GE on CREMA-D: the concat-fusion baseline (concat_cremad.py) with each
# tower's gradients modulated every optimizer step
# (docs/baselines/ogm_ge.md). 4 GPUs x 16 clips, as concat_cremad.py:
#   tools/dist_train.sh configs/ogm_ge_cremad.py 4
_base_ = ['concat_cremad.py']

# alpha = 0.8: the value the authors' README recommends for CREMA-D.
# Modulation over all epochs.
custom_hooks = [dict(type='OGMGEHook', alpha=0.8)]
