# CREMA-D, 6 emotions (NEU, HAP, SAD, FEA, DIS, ANG), with the paper's recipe.
# Files written by tools/data/cremad/ (docs/data_preparation.md): frames/<id>/
# (1 fps), audio/<id>.wav and generic annotations. The split (6,698 train /
# 744 test) has no validation part, so val.txt must be a fixed carve-out of
# the training list and train.txt the rest (disjoint); checkpoints are
# selected on val.txt. test.txt is only read by tools/test.py.
dataset_type = 'AudioVisualDataset'
data_root = 'data/cremad'
ann_file_train = f'{data_root}/train.txt'
ann_file_val = f'{data_root}/val.txt'
ann_file_test = f'{data_root}/test.txt'
classes = 'cremad_6'

# Audio: 22,050 Hz, tiled and cut to 3 s, STFT n_fft 512, hop 353,
# log(|S| + 1e-7): audios (1, 188, 257) = (time, frequency).
audio_pipeline = [
    dict(type='LoadAudio', sample_rate=22050),
    dict(type='FixAudioLength', seconds=3.0, mode='tile',
         crop_position='start'),
    dict(type='LogSTFT', n_fft=512, hop_length=353, eps=1e-7)
]

# Visual: frames at 1 fps, ImageNet mean/std (data preprocessor). Training
# draws 3 of the clip's frames at random with replacement, each with its own
# random crop and flip, as the paper did; testing takes the 3 segment
# centres, the same frames every time.
train_pipeline = [
    dict(type='SampleSegmentFrames', num_segments=3, fps=1.0,
         test_mode=False, train_sampling='random_with_replacement'),
    *audio_pipeline,
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
    *audio_pipeline,
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

# acc/fused_top1, acc/audio_top1, acc/visual_top1, ...
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
