# MBT (Nagrani et al., NeurIPS 2021) on Kinetics-Sounds: rollingq_ks.py's
# pretrained 4-layer ViT-B/16 towers, fused by bottleneck tokens instead of
# one attention query (docs/baselines/mbt.md). No AIRHook: it rotates a
# RollingQFusionHead's query. 4 GPUs x 16 clips, as rollingq_ks.py:
#   tools/dist_train.sh configs/mbt_ks.py 4
_base_ = ['./rollingq_ks.py']

# The paper's MBT-B: 4 bottleneck tokens, fusion in the last 4 of 12 layers
# (L_f = 8; the released balanced-AudioSet config), each layer ViT-B's (MLP
# x4). Here the towers are the unimodal layers and the 4 fusion layers are
# the head's, trained from scratch (Xavier-normal Linears). 8 heads of 96
# channels instead of ViT-B's 12 of 64, so that the shrunk (32-wide) model of
# the config tests divides too.
model = dict(
    fusion_head=dict(
        _delete_=True,
        type='MBTFusionHead',
        num_classes=31,
        num_layers=4,
        num_bottlenecks=4,
        num_heads=8,
        mlp_ratio=4.0,
        dropout=0.0,
        probe_pool='cls',
        loss_cls=dict(type='CrossEntropyLoss')))

custom_hooks = []
