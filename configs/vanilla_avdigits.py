# Vanilla multimodal transformer on AV-Digits: rollingq_avdigits.py with the
# rotation off; AIRHook still logs AIR, cosines and attention shares.
_base_ = ['./rollingq_avdigits.py']

custom_hooks = [dict(type='AIRHook', enable_rotation=False)]
