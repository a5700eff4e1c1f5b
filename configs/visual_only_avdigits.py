# Unimodal baseline on AV-Digits: the image tower alone (the same ViT tower,
# mean-pooled tokens, one Linear layer). The audio tower is still built and
# its detached probe still reported, but it never reaches the classifier, so
# acc/fused_top1 is the image-only accuracy: the ceiling of what the image
# tower learns when nothing competes with it for the gradient.
_base_ = ['./audio_only_avdigits.py']

model = dict(fusion_head=dict(modality='visual'))
