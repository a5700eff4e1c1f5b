# The paper's schedule: SGD lr 1e-3, momentum 0.9, weight decay 1e-4, batch 64
# in total, 30 epochs, cosine decay after 2.5 linear warm-up epochs (both
# updated every iteration).
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=30, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=1e-3, momentum=0.9, weight_decay=1e-4))

# The cosine phase has no `end` (nor T_max): the Runner ends it at
# train_cfg.max_epochs, so `--cfg-options train_cfg.max_epochs=N` (or a
# derived config's train_cfg) stretches the decay to epoch N.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-3,
        by_epoch=True,
        begin=0,
        end=2.5,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.0,
        by_epoch=True,
        begin=2.5,
        convert_to_iter_based=True)
]

# lr 1e-3 is for 64 samples per step in total (GPUs x batch_size). Keep the
# total at 64, or scale the lr linearly to another total (--auto-scale-lr,
# i.e. enable=True); tools/train.py warns when the total differs unscaled.
auto_scale_lr = dict(enable=False, base_batch_size=64)
