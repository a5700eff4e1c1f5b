# Vanilla multimodal transformer on Kinetics-Sounds: rollingq_ks.py with the
# rotation off; AIRHook still logs AIR, cosines and attention shares.
_base_ = ['./rollingq_ks.py']

custom_hooks = [dict(type='AIRHook', enable_rotation=False)]
