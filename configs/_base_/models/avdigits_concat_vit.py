# The concat-fusion baseline on AV-Digits: the same towers, mean-pooled tokens
# of each modality concatenated and classified by one Linear layer.
_base_ = ['./avdigits_rollingq_vit.py']

model = dict(
    fusion_head=dict(
        _delete_=True,
        type='ConcatFusionHead',
        num_classes=10,
        dropout=0.1,
        probe_pool='mean',
        loss_cls=dict(type='CrossEntropyLoss'),
        init_cfg=None))
