# Concat-fusion baseline on CREMA-D: the same towers, pooled tokens
# concatenated, one Linear layer; no attention, so no AIRHook. 4 GPUs x 16
# clips, as rollingq_cremad.py.
_base_ = [
    '_base_/models/concat_vit.py', '_base_/datasets/cremad.py',
    '_base_/schedules/sgd_30e_cosine.py', '_base_/default_runtime.py'
]

# As rollingq_cremad.py: 188 x 257 audio input patched without padding (177
# audio tokens), CREMA-D tower weights.
vit_checkpoint = 'work_dirs/pretrained/vit-b16-in21k_4l_cremad-188x257.pth'
model = dict(
    modalities=dict(
        audio=dict(
            backbone=dict(
                img_size=(188, 257),
                init_cfg=dict(checkpoint=vit_checkpoint))),
        visual=dict(backbone=dict(init_cfg=dict(checkpoint=vit_checkpoint)))),
    fusion_head=dict(num_classes=6))
