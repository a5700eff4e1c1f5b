# AV-Digits (shipped in data/avdigits, see its README.md): spoken digits
# (FSDD, 8 kHz FLAC) paired with noisy 28 x 28 handwritten digits (MNIST),
# 10 classes. train: 2,000 clips of 4 speakers; val: 500 clips of the held-out
# speaker lucas (checkpoint and hyper-parameter choice); test: 500 clips of
# the held-out speaker theo (only read by tools/test.py).
dataset_type = 'AudioVisualDataset'
data_root = 'data/avdigits'
ann_file_train = f'{data_root}/train.txt'
ann_file_val = f'{data_root}/val.txt'
ann_file_test = f'{data_root}/test.txt'
classes = f'{data_root}/classes.txt'

# Audio: padded with silence (or cut) to 0.975 s, i.e. exactly 96 frames of a
# 40-bin Kaldi log-mel fbank (25 ms Hann window, 10 ms shift) at 8 kHz.
# Standardised with the training split's constants, measured over all
# 2,000 x 96 x 40 values of the padded features: mean -11.192, std 6.006
# (KaldiFbank divides by 2 * norm_std, so the features have mean 0, std 0.5).
# Other data needs its own: tools/data/compute_norm_stats.py CONFIG.
audio_seconds = 0.975
audio_feature = dict(
    type='KaldiFbank',
    num_mel_bins=40,
    frame_length_ms=25.0,
    frame_shift_ms=10.0,
    window_type='hanning',
    dither=0.0,
    use_energy=False,
    subtract_mean=True,
    target_frames=96,
    norm_mean=-11.192,
    norm_std=6.006)

# Visual: the still image as a 1-frame clip (grey replicated to RGB), kept at
# 28 x 28 (the Resize only guards other image sizes). Mean/std of the
# training pixels are applied by the model's data preprocessor.
train_pipeline = [
    dict(type='SampleSegmentFrames', num_segments=1, test_mode=False),
    dict(type='LoadAudio', sample_rate=8000),
    dict(type='FixAudioLength', seconds=audio_seconds, mode='pad'),
    audio_feature,
    dict(type='Resize', scale=(28, 28), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios'))
]
# clip_id in each prediction joins it with {split}_meta.csv (which modality
# of the sample is corrupted) in benchmarks/avdigits_benchmark.py.
test_pipeline = [
    dict(type='SampleSegmentFrames', num_segments=1, test_mode=True),
    dict(type='LoadAudio', sample_rate=8000),
    dict(type='FixAudioLength', seconds=audio_seconds, mode='pad',
         test_mode=True),
    audio_feature,
    dict(type='Resize', scale=(28, 28), keep_ratio=False),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='FormatAudioShape', input_format='NCTF'),
    dict(type='PackActionInputs', collect_keys=('imgs', 'audios'),
         meta_keys=('img_shape', 'clip_id'))
]

# Loader processes per split: one per CPU core but the one the training
# process uses, at most 8 (1 on two cores), counted when the config is loaded
# and recorded in the work dir's copy of it. Per-sample seeds make the data
# independent of the count (RNGStateHook, docs/reliability.md).
# `__import__`: mmengine reads a config with an import statement as a
# lazy-import config. Whether training waits for data: docs/configs.md.
num_workers = max(1, min(8, (__import__('os').cpu_count() or 2) - 1))
train_dataloader = dict(
    batch_size=64,
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
    batch_size=100,
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
    batch_size=100,
    num_workers=num_workers,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root, audio=data_root),
        metainfo=dict(classes=classes),
        pipeline=test_pipeline,
        test_mode=True))

# acc/fused_top1, acc/audio_top1, acc/visual_top1, ...
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
