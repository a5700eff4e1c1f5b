# Vanilla multimodal transformer on Kinetics-Sounds: rollingq_ks.py with the
# rotation off; AIRHook still logs AIR, cosines and attention shares.
# 4 GPUs x 16 clips, as rollingq_ks.py.
_base_ = ['./rollingq_ks.py']

custom_hooks = [dict(type='AIRHook', enable_rotation=False)]
