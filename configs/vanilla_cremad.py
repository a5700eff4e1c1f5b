# Vanilla multimodal transformer on CREMA-D: rollingq_cremad.py with the
# rotation off; AIRHook still logs AIR, cosines and attention shares.
_base_ = ['./rollingq_cremad.py']

custom_hooks = [dict(type='AIRHook', enable_rotation=False)]
