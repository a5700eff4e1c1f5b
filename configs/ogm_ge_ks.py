# OGM-GE on Kinetics-Sounds: the concat-fusion baseline (concat_ks.py) with
# each tower's gradients modulated every optimizer step
# (docs/baselines/ogm_ge.md). 4 GPUs x 16 clips, as concat_ks.py:
#   tools/dist_train.sh configs/ogm_ge_ks.py 4
_base_ = ['concat_ks.py']

# alpha = 0.1: the authors publish no Kinetics-Sounds value; 0.1 is the
# release's default and the value its README recommends for VGGSound, the
# closest dataset (YouTube clips, audio-led). Modulation over all epochs.
custom_hooks = [dict(type='OGMGEHook', alpha=0.1)]
