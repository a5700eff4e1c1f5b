# The concat-fusion baseline: the same towers, pooled tokens concatenated and
# classified by one Linear layer.
_base_ = ['./rollingq_vit.py']

model = dict(
    fusion_head=dict(
        _delete_=True,
        type='ConcatFusionHead',
        num_classes=31,
        dropout=0.0,
        probe_pool='mean',
        loss_cls=dict(type='CrossEntropyLoss')))
