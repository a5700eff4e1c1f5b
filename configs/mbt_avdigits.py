# MBT (Nagrani et al., NeurIPS 2021) on AV-Digits: rollingq_avdigits.py's
# towers, fused by bottleneck tokens instead of one attention query
# (docs/baselines/mbt.md). No AIRHook: it rotates a RollingQFusionHead's query.
#   OMP_NUM_THREADS=1 python tools/train.py configs/mbt_avdigits.py
_base_ = ['./rollingq_avdigits.py']

# The paper's 4 bottleneck tokens. Its MBT-B fuses in the last 4 of 12 layers
# (fusion layer L_f = 8, the released balanced-AudioSet config); here the two
# 2-layer towers are the unimodal layers and 2 head layers fuse: the fewest
# with an exchange, since what enters the bottleneck at one layer reaches the
# other modality's CLS at the next. Width and heads as the towers (64, 4),
# dropout as their drop_rate. PyTorch's default Linear initialisation, as the
# other AV-Digits heads (the head's default is Xavier-normal).
model = dict(
    fusion_head=dict(
        _delete_=True,
        type='MBTFusionHead',
        num_classes=10,
        num_layers=2,
        num_bottlenecks=4,
        num_heads=4,
        mlp_ratio=2.0,
        dropout=0.1,
        probe_pool='mean',
        loss_cls=dict(type='CrossEntropyLoss'),
        init_cfg=None))

custom_hooks = []

# Fused and per-probe top-1 (the bottleneck share is logged with the losses as
# bottleneck_attn_<m>; AttentionShareMetric reads RollingQ's attn_share).
val_evaluator = [dict(type='AccMetric')]
test_evaluator = val_evaluator
