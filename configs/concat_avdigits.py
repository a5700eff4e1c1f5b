# Concat-fusion baseline on AV-Digits: the same towers, pooled tokens
# concatenated, one Linear layer; no attention, so no AIRHook.
_base_ = [
    '_base_/models/avdigits_concat_vit.py', '_base_/datasets/avdigits.py',
    '_base_/schedules/avdigits_adamw_20e.py', '_base_/default_runtime.py'
]

default_hooks = dict(logger=dict(interval=10))
