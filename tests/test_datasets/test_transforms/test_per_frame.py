"""PerFrame: independent crops and flips per frame, on synthetic and real
frames, reproducible under the per-sample seeds."""
import multiprocessing
import random

import numpy as np
import pytest
from mmaction.registry import TRANSFORMS
from mmcv.transforms import Compose

from rollingq_mm.datasets.transforms import PerFrame
from rollingq_mm.utils import SampleSeededPipeline

# The release's training augmentation, drawn for each frame.
RELEASE = [
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
]


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)


def textured(height, width, seed=0):
    """A frame whose every crop and flip shows: smooth noise + gradient."""
    noise = np.random.RandomState(seed).randint(0, 60, (height, width, 3))
    ramp = np.linspace(0, 190, width)[None, :, None]
    return (noise + ramp).astype(np.uint8)


def clip(*frames):
    return dict(imgs=list(frames), modality='RGB',
                img_shape=frames[0].shape[:2],
                original_shape=frames[0].shape[:2])


def test_each_frame_gets_its_own_crop_and_flip():
    frame = textured(180, 240)
    seed_all(0)
    out = PerFrame(RELEASE)(clip(frame, frame.copy(), frame.copy()))
    info = out['per_frame_info']
    boxes = [tuple(entry['crop_bbox']) for entry in info]
    flips = [bool(entry['flip']) for entry in info]
    assert len(set(boxes)) == 3
    assert set(flips) == {True, False}
    # identical frames before, different after
    for a in range(3):
        for b in range(a + 1, 3):
            assert not np.array_equal(out['imgs'][a], out['imgs'][b])
    # per-frame values are not left at the clip level
    assert 'crop_bbox' not in out and 'flip' not in out
    assert out['img_shape'] == (224, 224)

    # mmaction2's clip-level transforms keep identical frames identical
    seed_all(0)
    same = Compose([TRANSFORMS.build(cfg) for cfg in RELEASE])(
        clip(frame, frame.copy(), frame.copy()))
    assert all(np.array_equal(img, same['imgs'][0]) for img in same['imgs'])


@pytest.mark.parametrize('seed', range(6))
def test_one_frame_equals_the_plain_transforms(seed):
    frame = textured(150, 200, seed)
    seed_all(seed)
    plain = Compose([TRANSFORMS.build(cfg) for cfg in RELEASE])(
        clip(frame.copy()))
    seed_all(seed)
    wrapped = PerFrame(RELEASE)(clip(frame.copy()))
    np.testing.assert_array_equal(wrapped['imgs'][0], plain['imgs'][0])
    info = wrapped['per_frame_info'][0]
    np.testing.assert_array_equal(info['crop_bbox'], plain['crop_bbox'])
    assert info['flip'] == plain['flip']
    np.testing.assert_allclose(info['scale_factor'], plain['scale_factor'])


def test_frames_of_different_sizes_come_out_alike():
    frames = [textured(100, 150), textured(240, 320, 1),
              textured(90, 60, 2)]
    seed_all(0)
    out = PerFrame(RELEASE)(clip(*frames))
    assert np.stack(out['imgs']).shape == (3, 224, 224, 3)
    for frame, entry in zip(frames, out['per_frame_info']):
        left, top, right, bottom = entry['crop_bbox']
        assert 0 <= left < right <= frame.shape[1]
        assert 0 <= top < bottom <= frame.shape[0]


def test_different_output_shapes_name_the_transforms():
    frames = [textured(100, 150), textured(240, 320, 1)]
    with pytest.raises(ValueError, match='RandomResizedCrop.*fixed-size'):
        PerFrame([dict(type='RandomResizedCrop')])(clip(*frames))


def test_second_wrapper_continues_each_frames_record():
    frame = textured(120, 160)
    seed_all(1)
    out = PerFrame(RELEASE[:2])(clip(frame, frame.copy()))
    boxes = [entry['crop_bbox'] for entry in out['per_frame_info']]
    quadruples = [entry['crop_quadruple'] for entry in out['per_frame_info']]
    out = PerFrame([dict(type='CenterCrop', crop_size=112)])(out)
    for box, quadruple, entry in zip(boxes, quadruples,
                                     out['per_frame_info']):
        assert not np.array_equal(entry['crop_bbox'], box)
        # the centre half of each frame's own earlier crop
        np.testing.assert_allclose(
            entry['crop_quadruple'][2:], quadruple[2:] / 2, rtol=1e-6)
    assert np.stack(out['imgs']).shape == (2, 112, 112, 3)


def test_errors():
    with pytest.raises(ValueError, match='at least one'):
        PerFrame([])
    frame = textured(40, 40)
    with pytest.raises(ValueError, match='keypoint'):
        PerFrame(RELEASE)(dict(clip(frame), keypoint=np.zeros((1, 1, 2, 2))))
    lazy = PerFrame([dict(type='RandomResizedCrop', lazy=True)])
    with pytest.raises(ValueError, match='lazy'):
        lazy(clip(frame))
    with pytest.raises(ValueError, match='one frame for each'):
        PerFrame([dict(type='ThreeCrop', crop_size=40)])(clip(frame))


def test_reproducible_under_the_per_sample_seed():
    frame = textured(120, 160)
    epoch = multiprocessing.RawValue('q', 0)
    pipeline = SampleSeededPipeline(Compose([PerFrame(RELEASE)]), seed=7,
                                    epoch=epoch)

    def run(index):
        return pipeline(dict(clip(frame, frame), sample_idx=index))

    first, again, other = run(5), run(5), run(6)
    for a, b in zip(first['imgs'], again['imgs']):
        np.testing.assert_array_equal(a, b)
    assert [tuple(e['crop_bbox']) for e in first['per_frame_info']] != \
        [tuple(e['crop_bbox']) for e in other['per_frame_info']]
    epoch.value = 1
    assert [tuple(e['crop_bbox']) for e in run(5)['per_frame_info']] != \
        [tuple(e['crop_bbox']) for e in first['per_frame_info']]


def test_release_pipeline_on_a_real_video(av_clips):
    pipeline = Compose([
        TRANSFORMS.build(cfg) for cfg in (
            dict(type='SampleSegmentFrames', num_segments=3, fps=1.0,
                 train_sampling='random_with_replacement'),
            dict(type='PerFrame', transforms=RELEASE),
            dict(type='FormatShape', input_format='NCTHW'),
        )
    ])
    seed_all(0)
    out = pipeline(dict(filename=str(av_clips / 'chaplin.mp4'),
                        modality='RGB'))
    assert out['imgs'].shape == (1, 3, 3, 224, 224)
    boxes = [tuple(e['crop_bbox']) for e in out['per_frame_info']]
    assert len(set(boxes)) == 3
    for left, top, right, bottom in boxes:
        assert 0 <= left < right <= 640 and 0 <= top < bottom <= 360
    assert out['img_shape'] == (224, 224)
