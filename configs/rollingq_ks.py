# RollingQ on Kinetics-Sounds (31 classes): the paper's vanilla multimodal
# transformer, query rotated up to 3 times. 4 GPUs x 16 clips (the paper's
# total batch of 64), 30 epochs: tools/dist_train.sh configs/rollingq_ks.py 4
# The towers load work_dirs/pretrained/vit-b16-in21k_4l_ks-128x1024.pth: see
# _base_/models/rollingq_vit.py for the conversion command.
_base_ = [
    '_base_/models/rollingq_vit.py', '_base_/datasets/kinetics_sounds.py',
    '_base_/schedules/sgd_30e_cosine.py', '_base_/default_runtime.py'
]

# The paper's rule (the release's defaults beta = 0, rho = 0, which are
# AIRHook's: rotate to the bisector after each of the first 3 epochs) with
# the release's rotation (SVD of the rank-1 map) and statistics (an
# eval-mode pass over the training data after each epoch at which a
# rotation is due); docs/paper_parity.md.
custom_hooks = [
    dict(
        type='AIRHook',
        max_rotations=3,
        rotation_method='svd',
        statistics='eval_pass',
        eval_pass_epochs='rotation')
]
