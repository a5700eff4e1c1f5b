# RollingQ on your own clips, prepared by tools/data/prepare_clips.py into
# data/my_clips (the worked example of docs/own_data.md: 9 GRID talking
# faces, labelled by the colour word they say). Copy this file, then set the
# four things marked below for your data:
#   python tools/data/prepare_clips.py --class-folders my_raw_clips \
#       --out-dir data/my_clips --fps 1 --short-side 64 ...
#   python tools/data/compute_norm_stats.py \
#       configs/own_data/rollingq_my_clips.py
#   python tools/train.py configs/own_data/rollingq_my_clips.py
# The AV-Digits RollingQ config supplies the model (two small ViT towers
# trained from scratch), the schedule (AdamW, warm-up then cosine) and the
# runtime; this file states the data once (docs/configs.md).
_base_ = ['../rollingq_avdigits.py']

# (1) Where prepare_clips.py wrote the frames, wavs and split files.
data_root = 'data/my_clips'
# (2) The class names of data/my_clips/classes.txt, in its order (the ids
# of the split files). A list rather than the file's path, so that the
# config also loads where the data is not (the config tests);
# metainfo=dict(classes=f'{data_root}/classes.txt') works as well.
classes = ['blue', 'red', 'white']

# (3) The audio recipe: the wavs (mono, at the source rate) resampled to
# 16 kHz, cut or padded to the 3 s of a clip, a 64-bin Kaldi log-mel fbank
# (25 ms window, 10 ms shift): 300 frames x 64 bins. The same keys as
# `prepare_clips.py --features fbank:...` (docs/data_preparation.md).
# (4) norm_mean / norm_std here and the pixel mean / std in `model` below:
# the lines that compute_norm_stats.py prints for the training split.
audio_seconds = 3.0
audio_feature = dict(
    type='KaldiFbank',
    num_mel_bins=64,
    frame_length_ms=25.0,
    frame_shift_ms=10.0,
    window_type='hanning',
    dither=0.0,
    use_energy=False,
    subtract_mean=True,
    target_frames=300,
    norm_mean=-6.67391,
    norm_std=4.42525)

# Three 1-fps frames per clip (one from each third), 32 x 32 pixels.
formatting = [
    dict(type='Resize', scale=(32, 32), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
]
train_pipeline = [
    dict(type='SampleSegmentFrames', num_segments=3, test_mode=False),
    dict(type='LoadAudio', sample_rate=16000),
    dict(type='FixAudioLength', seconds=audio_seconds, mode='pad'),
    audio_feature, *formatting,
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios'))
]
# clip_id in each prediction joins `tools/test.py --dump` with your own
# per-clip table (tools/analysis/quality_report.py).
test_pipeline = [
    dict(type='SampleSegmentFrames', num_segments=3, test_mode=True),
    dict(type='LoadAudio', sample_rate=16000),
    dict(type='FixAudioLength', seconds=audio_seconds, mode='pad',
         test_mode=True),
    audio_feature, *formatting,
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios'),
         meta_keys=('img_shape', 'clip_id'))
]

# Every dataloader reads data_root, classes and its pipeline from above.
train_dataloader, val_dataloader, test_dataloader = (
    dict(batch_size=batch_size,
         dataset=dict(ann_file=f'{data_root}/{split}.txt',
                      data_prefix=dict(video=data_root, audio=data_root),
                      metainfo=dict(classes=classes),
                      pipeline=pipeline))
    for split, pipeline, batch_size in [('train', train_pipeline, 16),
                                        ('val', test_pipeline, 16),
                                        ('test', test_pipeline, 16)])

# The AV-Digits towers, resized to these inputs: audio (300 x 64) in 30
# strips of 10 frames x all 64 bins; each frame in sixteen 8 x 8 patches
# (3 frames: 48 tokens + 3 CLS).
model = dict(
    modalities=dict(
        audio=dict(backbone=dict(img_size=(300, 64), patch_size=(10, 64))),
        visual=dict(backbone=dict(img_size=32, patch_size=8))),
    fusion_head=dict(num_classes=len(classes)),
    data_preprocessor=dict(
        preprocessors=dict(
            imgs=dict(mean=[81.9634, 152.18, 156.509],
                      std=[56.4779, 46.0819, 63.8174]))))

# A few epochs: 30 by default, `--cfg-options train_cfg.max_epochs=N`
# stretches the cosine schedule to N. One log line per iteration.
train_cfg = dict(max_epochs=30)
# A small data set has few iterations per epoch (here one): warm up over
# 5 epochs rather than the AV-Digits base's one (a one-step warm-up leaves
# the cosine decay starting from 1 % of the lr), then the cosine decay to
# max_epochs.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.0,
        by_epoch=True,
        begin=5,
        convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=1))

# No rotation before epoch 10, and none while a unimodal probe is not above
# chance (1 / num_classes) by 0.2 on the epoch's training samples: read the
# schedule off a vanilla run of your data (docs/diagnostics.md, "Choosing
# the rotation schedule").
custom_hooks = [
    dict(
        type='AIRHook',
        air_threshold=0.3,
        rho=1.0,
        max_rotations=3,
        begin_epoch=10,
        interval=5,
        min_probe_accuracy_margin=0.2)
]
