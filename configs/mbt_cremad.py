# MBT (Nagrani et al., NeurIPS 2021) on CREMA-D: rollingq_cremad.py's towers
# (188 x 257 audio, CREMA-D tower weights), fused by bottleneck tokens as in
# mbt_ks.py (docs/baselines/mbt.md). No AIRHook. 4 GPUs x 16 clips:
#   tools/dist_train.sh configs/mbt_cremad.py 4
_base_ = ['./rollingq_cremad.py']

# As mbt_ks.py: 4 bottleneck tokens, 4 fusion layers (the paper's MBT-B).
model = dict(
    fusion_head=dict(
        _delete_=True,
        type='MBTFusionHead',
        num_classes=6,
        num_layers=4,
        num_bottlenecks=4,
        num_heads=8,
        mlp_ratio=4.0,
        dropout=0.0,
        probe_pool='cls',
        loss_cls=dict(type='CrossEntropyLoss')))

custom_hooks = []
