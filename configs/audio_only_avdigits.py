# Unimodal baseline on AV-Digits: the audio tower alone (the same ViT tower,
# mean-pooled tokens, one Linear layer). The image tower is still built and
# its detached probe still reported, but it never reaches the classifier, so
# acc/fused_top1 is the audio-only accuracy: the ceiling of what the audio
# tower learns when nothing competes with it for the gradient.
_base_ = ['./concat_avdigits.py']

model = dict(
    fusion_head=dict(
        _delete_=True,
        type='UnimodalHead',
        num_classes=10,
        modalities=['audio', 'visual'],
        modality='audio',
        dropout=0.1,
        probe_pool='mean',
        loss_cls=dict(type='CrossEntropyLoss'),
        init_cfg=None))

# The other tower's parameters get no gradient: DistributedDataParallel must
# look for them each iteration (multi-process runs fail otherwise). Unused
# on every rank, their gradients stay None, so the optimizer skips them as
# in a single-process run.
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
