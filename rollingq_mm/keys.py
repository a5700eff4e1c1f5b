"""Names that the plugin's parts exchange, defined once.

Heads write these keys into their extras and ``pred_score``; metrics, hooks,
the analysis tools and the benchmarks read them.
"""
#: Key of the fused prediction in ``pred_score`` and in the heads' logits.
FUSED_KEY = 'fused'
#: Extras / ``pred_score`` entry: per-sample attention share per modality
#: (B, M), the attention mass of the fusion [CLS] on that modality's tokens.
ATTN_SHARE_KEY = 'attn_share'
#: Extras / ``pred_score`` entry: per-sample token-count-normalised attention
#: share per modality (B, M), n_m = (a_m / L_m) / Σ_j (a_j / L_j) with a_m the
#: ``attn_share`` entry and L_m the modality's token count; 1/M each under
#: uniform attention whatever the token counts.
ATTN_SHARE_NORM_KEY = 'attn_share_norm'
#: Training scalar of the batch / epoch mean of ``attn_share`` for modality
#: ``{}`` (per batch with the losses, per epoch under ``SCALAR_PREFIX``).
ATTN_SCALAR = 'attn_{}'
#: Training scalar of the batch / epoch mean of ``attn_share_norm`` for
#: modality ``{}`` (beside ``attn_{}``, the raw share; not ``attn_norm_{}``:
#: readers of ``rollingq/attn_<m>`` take what follows ``attn_`` for a
#: modality).
ATTN_NORM_SCALAR = 'norm_attn_{}'
#: Epoch scalar of ``AIRHook`` (under ``SCALAR_PREFIX``, beside ``air``)
#: and its ``trigger`` value: the per-token AIR, the AIR contrast of the
#: token-count-normalised shares (``rollingq.token_normalised_air``).
AIR_NORM_SCALAR = 'air_norm'
#: Extras / ``pred_score`` entry: per-sample cos(q, kbar_i^m) (B, M).
COSINE_KEY = 'modality_cos'
#: ``pred_score`` entry of the fused scores with modality ``{}`` ablated.
ABLATED_KEY = 'fused_without_{}'
#: Prefix of the epoch scalars of ``AIRHook`` (message hub, visualizer).
SCALAR_PREFIX = 'rollingq/'
#: Data-info / metainfo key of a clip's id (the stem of its visual path in
#: the annotation list); pack it with ``PackActionInputs(meta_keys=...)`` to
#: find it in ``tools/test.py --dump``.
CLIP_ID_KEY = 'clip_id'
#: Results key of the noise level drawn by ``RandomLevelNoise``.
NOISE_LEVEL_KEY = 'noise_level'
#: Extras entry of ``MBTFusionHead``: per-sample bottleneck attention share
#: per modality (B, M), the attention mass of modality m's CLS on the shared
#: bottleneck tokens in the head's last layer, averaged over heads.
BOTTLENECK_SHARE_KEY = 'bottleneck_share'
#: Training scalar of the batch mean of ``bottleneck_share`` for modality
#: ``{}``, reported with the losses.
BOTTLENECK_SCALAR = 'bottleneck_attn_{}'
#: Extras entry of a head whose fused logits are a sum of per-modality parts
#: (``ConcatFusionHead``): each modality's part (B, M, K), the per-modality
#: output that OGM-GE scores.
UNIMODAL_LOGITS_KEY = 'unimodal_logits'
#: Prefix of the per-step scalars of ``OGMGEHook`` (``coef_<m>``,
#: ``ratio_<m>``), logged under ``train/`` with the losses.
OGM_SCALAR_PREFIX = 'ogm/'
#: Prefix of the epoch scalars of ``PMRHook`` (``ratio``, ``coef_<m>``,
#: ``proto_acc_<m>``; message hub, visualizer).
PMR_SCALAR_PREFIX = 'pmr/'
