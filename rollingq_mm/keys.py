"""Names that the plugin's parts exchange, defined once.

Heads write these keys into their extras and ``pred_score``; metrics, hooks,
the analysis tools and the benchmarks read them.
"""
#: Key of the fused prediction in ``pred_score`` and in the heads' logits.
FUSED_KEY = 'fused'
#: Extras / ``pred_score`` entry: per-sample attention share per modality
#: (B, M), the attention mass of the fusion [CLS] on that modality's tokens.
ATTN_SHARE_KEY = 'attn_share'
#: Extras / ``pred_score`` entry: per-sample cos(q, kbar_i^m) (B, M).
COSINE_KEY = 'modality_cos'
#: ``pred_score`` entry of the fused scores with modality ``{}`` ablated.
ABLATED_KEY = 'fused_without_{}'
#: Prefix of the epoch scalars of ``AIRHook`` (message hub, visualizer).
SCALAR_PREFIX = 'rollingq/'
#: Results key of the noise level drawn by ``RandomLevelNoise``.
NOISE_LEVEL_KEY = 'noise_level'
