# RollingQ on Kinetics-Sounds with a TSN-style video encoder: an ImageNet
# ResNet-50 runs on each of the 3 frames (frame_wise) and the tokens of the
# frames are concatenated; the audio tower stays the paper's ViT-B/16.
_base_ = ['../rollingq_ks.py']

model = dict(
    modalities=dict(
        visual=dict(
            # (B*3, 3, 224, 224) -> (B*3, 2048, 7, 7): 3 x 49 = 147 tokens.
            frame_wise=True,
            backbone=dict(
                _delete_=True,
                type='ResNet',
                depth=50,
                pretrained='torchvision://resnet50',
                norm_eval=False),
            tokenizer=dict(
                _delete_=True,
                type='TokenNeck',
                in_channels=2048,
                out_channels=768,
                add_pos_embed=True,
                num_positions=147,
                norm=True))))
