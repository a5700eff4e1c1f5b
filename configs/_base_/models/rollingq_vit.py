# The paper's "vanilla multimodal transformer" with RollingQ: per-modality
# 4-layer ViT-B/16 towers (768 wide, 12 heads, MLP x4) whose tokens (after
# the final LayerNorm, CLS included) are fused by one attention query.
# Defaults fit Kinetics-Sounds (128 x 1024 fbank, mel as height: 1 + 8*64 =
# 513 audio tokens; 3 frames of 224 x 224: 1 + 3*14*14 = 589 video tokens;
# 31 classes); the CREMA-D configs override the audio size, num_classes and
# the checkpoint. The audio stem is a plain 16 x 16 stride-16 convolution
# without padding, as in the paper: frames or bins that do not fill a patch
# are dropped (CREMA-D's 188 x 257 gives 11 x 16 patches + CLS = 177 tokens)
# instead of zero-padded, which a log spectrogram would read as loud.
#
# Both towers start from ImageNet-21k ViT-B/16 weights (first 4 layers), e.g.
# timm's vit_base_patch16_224.augreg_in21k (Hugging Face hub
# timm/vit_base_patch16_224.augreg_in21k); docs/pretrained_weights.md lists
# the checkpoints that fit and their keys. Converted once per audio size by
#   python tools/model_converters/vit_to_rollingq.py VIT_B16_IN21K.pth \
#       work_dirs/pretrained/vit-b16-in21k_4l_ks-128x1024.pth \
#       --audio-size 128 1024
# (--audio-size 188 257 and ..._cremad-188x257.pth for CREMA-D). Set both
# init_cfg to None to train from scratch.
vit_checkpoint = 'work_dirs/pretrained/vit-b16-in21k_4l_ks-128x1024.pth'
vit_b16_4l = dict(
    embed_dims=768, num_layers=4, num_heads=12, feedforward_channels=3072)

model = dict(
    type='AudioVisualRecognizer',
    modalities=dict(
        audio=dict(
            input_key='audios',
            backbone=dict(
                type='mmpretrain.VisionTransformer',
                arch=vit_b16_4l,
                img_size=(128, 1024),
                patch_size=16,
                patch_cfg=dict(padding=0),
                in_channels=1,
                drop_rate=0.0,
                out_type='raw',
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint=vit_checkpoint,
                    prefix='audio.')),
            tokenizer=dict(
                type='TokenNeck', in_channels=768, modality_embed=False)),
        visual=dict(
            input_key='imgs',
            backbone=dict(
                type='VideoVisionTransformer',
                arch=vit_b16_4l,
                img_size=224,
                patch_size=16,
                num_frames=3,
                drop_rate=0.0,
                out_type='raw',
                init_cfg=dict(
                    type='Pretrained',
                    checkpoint=vit_checkpoint,
                    prefix='visual.')),
            tokenizer=dict(
                type='TokenNeck', in_channels=768, modality_embed=False))),
    fusion_head=dict(
        type='RollingQFusionHead',
        num_classes=31,
        num_heads=1,
        attn_drop=0.2,
        proj_drop=0.2,
        # The unimodal probes read each tower's CLS token, as in the paper.
        probe_pool='cls',
        loss_cls=dict(type='CrossEntropyLoss')),
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            imgs=dict(
                type='ActionDataPreprocessor',
                mean=[123.675, 116.28, 103.53],
                std=[58.395, 57.12, 57.375],
                format_shape='NCTHW'),
            audios=dict(type='ActionDataPreprocessor', format_shape='NCHW'))))
