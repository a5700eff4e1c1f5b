# Unimodal baseline on AV-Digits: the image tower alone (the same ViT tower,
# mean-pooled tokens, one Linear layer). The audio tower is still built and
# its detached probe still reported, but it never reaches the classifier, so
# acc/fused_top1 is the image-only accuracy: the ceiling of what the image
# tower learns when nothing competes with it for the gradient.
_base_ = ['./concat_avdigits.py']

model = dict(
    fusion_head=dict(
        _delete_=True,
        type='UnimodalHead',
        num_classes=10,
        modalities=['audio', 'visual'],
        modality='visual',
        dropout=0.1,
        probe_pool='mean',
        loss_cls=dict(type='CrossEntropyLoss')))
