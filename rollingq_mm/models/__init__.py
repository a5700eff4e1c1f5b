"""models of rollingq_mm."""
from .backbones import VideoVisionTransformer  # noqa: F401
from .necks import TokenNeck  # noqa: F401
from .recognizers import AudioVisualRecognizer  # noqa: F401
from .air_statistics import AIRStatistics  # noqa: F401
from .balancing import OGMScores  # noqa: F401
from .balancing import PMRRegulariser  # noqa: F401
from .heads import BaseAVHead, RollingQFusionHead  # noqa: F401
from .heads import ConcatFusionHead, UnimodalHead  # noqa: F401
from .heads import MBTFusionHead  # noqa: F401
from .rollingq import (DegenerateAnchorError, anchor_target,  # noqa: F401
                       anchor_weights, attention_imbalance_rate,
                       modality_cosines, plane_rotation,
                       projection_target, rotation_angle, svd_rotation)
