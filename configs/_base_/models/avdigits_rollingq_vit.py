# The "vanilla multimodal transformer" of RollingQ, sized for AV-Digits on a
# CPU: per-modality mmpretrain ViT towers of 2 layers, 64 wide, 4 heads (MLP
# x2), trained from scratch, whose tokens (after the final LayerNorm, CLS
# included) are fused by one attention query (one head, as in the paper).
# Audio: the (96 frames x 40 bins) fbank cut into 24 strips of 4 frames x all
# 40 bins (24 tokens + CLS); images: 28 x 28 in sixteen 7 x 7 patches
# (16 tokens + CLS).
avdigits_vit = dict(
    embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=128)

model = dict(
    type='AudioVisualRecognizer',
    modalities=dict(
        audio=dict(
            input_key='audios',
            backbone=dict(
                type='mmpretrain.VisionTransformer',
                arch=avdigits_vit,
                img_size=(96, 40),
                patch_size=(4, 40),
                in_channels=1,
                drop_rate=0.1,
                out_type='raw'),
            tokenizer=dict(
                type='TokenNeck', in_channels=64, modality_embed=False)),
        visual=dict(
            input_key='imgs',
            # Every frame (here the one still image) goes through the 2-D
            # tower: (B, 3, 1, 28, 28) -> (B, 3, 28, 28).
            frame_wise=True,
            backbone=dict(
                type='mmpretrain.VisionTransformer',
                arch=avdigits_vit,
                img_size=28,
                patch_size=7,
                in_channels=3,
                drop_rate=0.1,
                out_type='raw'),
            tokenizer=dict(
                type='TokenNeck', in_channels=64, modality_embed=False))),
    fusion_head=dict(
        type='RollingQFusionHead',
        num_classes=10,
        num_heads=1,
        attn_drop=0.1,
        proj_drop=0.1,
        probe_pool='mean',
        loss_cls=dict(type='CrossEntropyLoss'),
        # PyTorch's default Linear initialisation, with which the AV-Digits
        # results (docs/results_avdigits.md) were measured; the heads'
        # default is the paper's Xavier-normal.
        init_cfg=None),
    data_preprocessor=dict(
        type='MultiModalDataPreprocessor',
        preprocessors=dict(
            # Mean and std of the training images' pixels (0-255), measured
            # over all 2,000 x 28 x 28 values (for other data:
            # tools/data/compute_norm_stats.py CONFIG).
            imgs=dict(
                type='ActionDataPreprocessor',
                mean=[68.42, 68.42, 68.42],
                std=[87.11, 87.11, 87.11],
                format_shape='NCTHW'),
            # The fbank is standardised by KaldiFbank in the pipeline.
            audios=dict(type='ActionDataPreprocessor', format_shape='NCHW'))))
