# Concat-fusion baseline on Kinetics-Sounds: the same towers, pooled tokens
# concatenated, one Linear layer; no attention, so no AIRHook. 4 GPUs x 16
# clips, as rollingq_ks.py.
_base_ = [
    '_base_/models/concat_vit.py', '_base_/datasets/kinetics_sounds.py',
    '_base_/schedules/sgd_30e_cosine.py', '_base_/default_runtime.py'
]
