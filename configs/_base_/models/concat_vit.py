# The concat-fusion baseline: the same towers, pooled tokens concatenated and
# classified by one Linear layer. Like the probes, the classifier reads each
# tower's CLS token.
_base_ = ['./rollingq_vit.py']

model = dict(
    fusion_head=dict(
        _delete_=True,
        type='ConcatFusionHead',
        num_classes=31,
        dropout=0.0,
        probe_pool='cls',
        loss_cls=dict(type='CrossEntropyLoss')))
