# AV-Digits schedule (towers trained from scratch, so AdamW rather than the
# paper's SGD for pretrained towers): AdamW lr 1e-3, weight decay 0.01, batch
# 64, 20 epochs, cosine decay after one linear warm-up epoch (both updated
# every iteration); validation every epoch.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=20, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.01))

# The cosine phase has no `end` (nor T_max): the Runner ends it at
# train_cfg.max_epochs, so `--cfg-options train_cfg.max_epochs=N` (or a
# derived config's train_cfg) stretches the decay to epoch N.
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.01,
        by_epoch=True,
        begin=0,
        end=1,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min=0.0,
        by_epoch=True,
        begin=1,
        convert_to_iter_based=True)
]

auto_scale_lr = dict(enable=False, base_batch_size=64)

# The same initialisation and data order for every run of a config
# (tools/train.py --seed overrides it).
randomness = dict(seed=0)
