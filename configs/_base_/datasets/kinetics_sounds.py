# Kinetics-Sounds, 31 classes, with the paper's recipe.
# Files written by tools/data/kinetics_sounds/ (docs/data_preparation.md):
# frames/<id>/ (1 fps), audio/<id>.wav and generic annotations. The dataset
# has no validation split, so val.txt must be a fixed carve-out of the
# training list and train.txt the rest (disjoint); checkpoints are selected
# on val.txt. test.txt (the official test list) is only read by
# tools/test.py.
dataset_type = 'AudioVisualDataset'
data_root = 'data/kinetics_sounds'
ann_file_train = f'{data_root}/train.txt'
ann_file_val = f'{data_root}/val.txt'
ann_file_test = f'{data_root}/test.txt'
classes = 'kinetics_sounds_31'

# Audio: Kaldi-style log-mel fbank at the wav's own sample rate, 128 bins,
# 25 ms Hann window, 10 ms shift, no dither, htk_compat, no energy,
# mean-subtracted waveform, 1024 frames, normalised (x + 4.503877) / (2 *
# 5.141276). Options not named by the recipe keep Kaldi's defaults. Fed
# frequency-major as in the recipe: audios (1, 128, 1024) = (mel, time), an
# 8 x 64 patch grid in the ViT tower.
audio_feature = dict(
    type='KaldiFbank',
    num_mel_bins=128,
    frame_length_ms=25.0,
    frame_shift_ms=10.0,
    window_type='hanning',
    dither=0.0,
    htk_compat=True,
    use_energy=False,
    subtract_mean=True,
    target_frames=1024,
    norm_mean=-4.503877,
    norm_std=5.141276,
    layout='freq_time')

# Visual: frames at 1 fps, 3 per clip (a random frame in each third of the
# clip in training, each with its own random crop and flip; the centres in
# testing).
train_pipeline = [
    dict(type='SampleSegmentFrames', num_segments=3, fps=1.0,
         test_mode=False),
    dict(type='LoadAudio', sample_rate=None),
    audio_feature,
    # The paper's augmentation: crop and flip drawn for each frame.
    dict(
        type='PerFrame',
        transforms=[
            dict(type='RandomResizedCrop'),
            dict(type='Resize', scale=(224, 224), keep_ratio=False),
            dict(type='Flip', flip_ratio=0.5)
        ]),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios'))
]
test_pipeline = [
    dict(type='SampleSegmentFrames', num_segments=3, fps=1.0,
         test_mode=True),
    dict(type='LoadAudio', sample_rate=None),
    audio_feature,
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios'))
]

# batch_size is per GPU: 4 GPUs x 16 is the paper's total batch of 64
# (tools/dist_train.sh CONFIG 4). On another number of GPUs keep the total
# at 64 (e.g. train_dataloader.batch_size=64 on one) or scale the lr with
# --auto-scale-lr; training warns at start-up when neither is done.
# Loader processes per split and training process: the node's CPU cores
# shared by its 4 training processes, one core each left to the process, at
# most 8; counted when the config is loaded, recorded in the work dir's copy
# of it, and without effect on the data (per-sample seeds, RNGStateHook).
# `__import__`: mmengine reads a config with an import statement as a
# lazy-import config. Whether training waits for data: docs/configs.md.
num_workers = max(1, min(8, (__import__('os').cpu_count() or 4) // 4 - 1))
train_dataloader = dict(
    batch_size=16,
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root, audio=data_root),
        metainfo=dict(classes=classes),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root, audio=data_root),
        metainfo=dict(classes=classes),
        pipeline=test_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=16,
    num_workers=num_workers,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root, audio=data_root),
        metainfo=dict(classes=classes),
        pipeline=test_pipeline,
        test_mode=True))

# Top-1/top-5 of the fused prediction and of each unimodal probe:
# acc/fused_top1, acc/audio_top1, acc/visual_top1, ...
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
