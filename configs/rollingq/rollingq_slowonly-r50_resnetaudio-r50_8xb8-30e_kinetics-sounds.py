# RollingQ on Kinetics-Sounds with mmaction2 CNN encoders: a ResNet3d
# SlowOnly-50 (ImageNet-inflated) over the 3 frames and a ResNetAudio-50
# over the 1024 x 128 fbank; their feature maps become 768-wide tokens.
# 8 GPUs x 8 clips = the paper's batch of 64.
_base_ = ['../rollingq_ks.py']


def _time_major(pipeline):
    """The pipeline with its fbank time-major: ResNetAudio reads mmaction2's
    (B, 1, T, F) audio, not the ViT tower's frequency-major (B, 1, F, T)."""
    return [
        dict(step, layout='time_freq') if step['type'] == 'KaldiFbank' else
        step for step in pipeline
    ]


model = dict(
    modalities=dict(
        audio=dict(
            # (B, 1, 1024, 128) -> (B, 1024, 128, 16): 2048 positions,
            # average-pooled to 256 tokens.
            backbone=dict(
                _delete_=True,
                type='ResNetAudio',
                depth=50,
                pretrained=None,
                in_channels=1,
                norm_eval=False),
            tokenizer=dict(
                _delete_=True,
                type='TokenNeck',
                in_channels=1024,
                out_channels=768,
                max_tokens=256,
                add_pos_embed=True,
                norm=True)),
        visual=dict(
            # (B, 3, 3, 224, 224) -> (B, 2048, 3, 7, 7): 147 tokens.
            backbone=dict(
                _delete_=True,
                type='ResNet3dSlowOnly',
                depth=50,
                pretrained='torchvision://resnet50',
                lateral=False,
                conv1_kernel=(1, 7, 7),
                conv1_stride_t=1,
                pool1_stride_t=1,
                inflate=(0, 0, 1, 1),
                norm_eval=False),
            tokenizer=dict(
                _delete_=True,
                type='TokenNeck',
                in_channels=2048,
                out_channels=768,
                add_pos_embed=True,
                num_positions=147,
                norm=True))))

# The node's cores shared by 8 training processes (the base counts 4).
num_workers = max(1, min(8, (__import__('os').cpu_count() or 8) // 8 - 1))
train_dataloader = dict(
    batch_size=8,
    num_workers=num_workers,
    dataset=dict(
        pipeline=_time_major(_base_.train_dataloader.dataset.pipeline)))
val_dataloader = dict(
    num_workers=num_workers,
    dataset=dict(pipeline=_time_major(_base_.val_dataloader.dataset.pipeline)))
test_dataloader = dict(
    num_workers=num_workers,
    dataset=dict(
        pipeline=_time_major(_base_.test_dataloader.dataset.pipeline)))
