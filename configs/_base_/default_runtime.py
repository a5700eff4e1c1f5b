# Runtime shared by every rollingq_mm config.
default_scope = 'mmaction'
custom_imports = dict(imports=['rollingq_mm'], allow_failed_imports=False)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # Best checkpoint by fused top-1 on the VALIDATION split (never test).
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=3,
        save_best='acc/fused_top1',
        rule='greater',
        # Checkpoints written atomically (temporary file, fsync, rename), so
        # a kill mid-write never leaves a torn file that `last_checkpoint`
        # names (rollingq_mm.compat.AtomicLocalBackend, docs/reliability.md).
        backend_args=dict(backend='atomic_local')),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    # Random-number state in every checkpoint and per-sample data seeds, so
    # `--resume` continues exactly as the run would have (docs/reliability.md).
    rng_state=dict(type='RNGStateHook', seed_per_sample=True),
    # training_curves.png in the work dir after training (AIR, attention
    # shares, accuracies; redraw with tools/analysis/plot_curves.py).
    curves=dict(type='TrainingCurvesHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # rollingq_mm.compat switches to gloo when CUDA is not available.
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)

# Text logs and scalars.json in the work dir. For TensorBoard, add
# dict(type='TensorboardVisBackend') to this list (needs `pip install
# tensorboard`, see requirements/optional.txt), then
# `tensorboard --logdir work_dirs`.
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
