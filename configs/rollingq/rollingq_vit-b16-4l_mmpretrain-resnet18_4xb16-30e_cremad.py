# RollingQ on CREMA-D with an mmpretrain audio encoder: ResNet-18 with one
# input channel over the 188 x 257 log-STFT (trained from scratch); the
# video tower stays the paper's ViT-B/16.
_base_ = ['../rollingq_cremad.py']

model = dict(
    modalities=dict(
        audio=dict(
            # (B, 1, 188, 257) -> (B, 512, 6, 9): 54 tokens.
            backbone=dict(
                _delete_=True,
                type='mmpretrain.ResNet',
                depth=18,
                in_channels=1,
                out_indices=(3, )),
            tokenizer=dict(
                _delete_=True,
                type='TokenNeck',
                in_channels=512,
                out_channels=768,
                add_pos_embed=True,
                num_positions=54,
                norm=True))))
