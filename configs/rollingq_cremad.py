# RollingQ on CREMA-D (6 emotions): the paper's vanilla multimodal
# transformer, query rotated once. 4 GPUs x 16 clips (the paper's total
# batch of 64), 30 epochs: tools/dist_train.sh configs/rollingq_cremad.py 4
_base_ = [
    '_base_/models/rollingq_vit.py', '_base_/datasets/cremad.py',
    '_base_/schedules/sgd_30e_cosine.py', '_base_/default_runtime.py'
]

# 257 x 188 log-STFT audio, i.e. audios (T=188, F=257), patched without
# padding (the base model's patch_cfg): 11 x 16 patches + CLS = 177 audio
# tokens, the last 12 frames and the top bin dropped, as in the paper. Tower
# weights converted with --audio-size 188 257 (see
# _base_/models/rollingq_vit.py).
vit_checkpoint = 'work_dirs/pretrained/vit-b16-in21k_4l_cremad-188x257.pth'
model = dict(
    modalities=dict(
        audio=dict(
            backbone=dict(
                img_size=(188, 257),
                init_cfg=dict(checkpoint=vit_checkpoint))),
        visual=dict(backbone=dict(init_cfg=dict(checkpoint=vit_checkpoint)))),
    fusion_head=dict(num_classes=6))

# The paper's rule for CREMA-D (one rotation, after the first epoch, to the
# bisector: AIRHook's defaults) with the release's rotation and statistics,
# as rollingq_ks.py.
custom_hooks = [
    dict(
        type='AIRHook',
        rotation_method='svd',
        statistics='eval_pass',
        eval_pass_epochs='rotation')
]
