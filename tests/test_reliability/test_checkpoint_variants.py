"""Checkpoints across variants: vanilla <-> RollingQ, and the class count.

Models are built from the shipped AV-Digits configs (shrunk towers) and
loaded with mmengine's ``load_checkpoint`` (what ``load_from`` and
``tools/test.py`` use).
"""
import logging

import pytest
import torch
from mmaction.registry import MODELS
from mmengine.logging import MMLogger
from mmengine.runner import Runner, load_checkpoint
from tiny_runs import TINY_WIDTH, tiny_avdigits_config

from rollingq_mm.models.rollingq import plane_rotation


class Records(logging.Handler):
    """Keep the messages logged to mmengine's current logger."""

    def __init__(self) -> None:
        super().__init__()
        self.messages = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelno, record.getMessage()))

    def text(self) -> str:
        return '\n'.join(message for _, message in self.messages)


@pytest.fixture
def records():
    logger = MMLogger.get_current_instance()
    handler = Records()
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


def build(tmp_path, name: str = 'rollingq_avdigits.py', **head):
    """A model of a shipped AV-Digits config, towers shrunk."""
    cfg = tiny_avdigits_config(tmp_path / 'cfg', name=name)
    cfg.model.fusion_head.update(head)
    return MODELS.build(cfg.model)


def save(model, path) -> str:
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return str(path)


def rotate(model) -> torch.Tensor:
    """Apply one real rotation to the model's fusion query."""
    head = model.fusion_head
    query = head.current_query().double()
    target = torch.roll(query, 1)
    head.apply_rotation(plane_rotation(query, target))
    return head.rotation.clone()


def test_vanilla_checkpoint_loads_into_rollingq_with_identity(
        tmp_path, records):
    vanilla = build(tmp_path, 'vanilla_avdigits.py')
    path = save(vanilla, tmp_path / 'vanilla.pth')
    rollingq = build(tmp_path)
    rotate(rollingq)
    load_checkpoint(rollingq, path, strict=True)
    for key, value in vanilla.state_dict().items():
        assert torch.equal(rollingq.state_dict()[key], value), key
    assert torch.equal(rollingq.fusion_head.rotation, torch.eye(TINY_WIDTH))
    assert int(rollingq.fusion_head.num_rotations) == 0
    assert ('carries 0 rotation(s) of the fusion query (fusion_head.rotation,'
            ' fusion_head.num_rotations=0); loaded (identity rotation)'
            in records.text())


def test_checkpoint_without_rotation_buffers_loads_with_a_warning(
        tmp_path, records):
    source = build(tmp_path)
    state = source.state_dict()
    del state['fusion_head.rotation'], state['fusion_head.num_rotations']
    model = build(tmp_path)
    rotate(model)
    incompatible = model.load_state_dict(state, strict=True)
    assert incompatible.missing_keys == []
    assert torch.equal(model.fusion_head.rotation, torch.eye(TINY_WIDTH))
    assert int(model.fusion_head.num_rotations) == 0
    assert any(level == logging.WARNING and
               'has no fusion_head.rotation / fusion_head.num_rotations'
               in message for level, message in records.messages)


def test_rotated_checkpoint_loads_into_vanilla_and_says_so(tmp_path,
                                                           records):
    rollingq = build(tmp_path)
    rotation = rotate(rollingq)
    assert not torch.equal(rotation, torch.eye(TINY_WIDTH))
    path = save(rollingq, tmp_path / 'rotated.pth')
    vanilla = build(tmp_path, 'vanilla_avdigits.py')
    load_checkpoint(vanilla, path, strict=True)
    assert torch.equal(vanilla.fusion_head.rotation, rotation)
    assert int(vanilla.fusion_head.num_rotations) == 1
    assert torch.allclose(vanilla.fusion_head.current_query(),
                          rollingq.fusion_head.current_query())
    assert 'carries 1 rotation(s)' in records.text()
    assert 'so the query is rotated as in that run' in records.text()


def test_half_of_the_rotation_state_is_refused(tmp_path):
    state = build(tmp_path).state_dict()
    del state['fusion_head.num_rotations']
    with pytest.raises(ValueError,
                       match='has fusion_head.rotation but not '
                       'fusion_head.num_rotations'):
        build(tmp_path).load_state_dict(state)


def test_wrong_number_of_classes_is_refused_naming_key_and_shapes(tmp_path):
    path = save(build(tmp_path), tmp_path / 'ten_classes.pth')
    six = build(tmp_path, num_classes=6)
    before = six.fusion_head.fc_cls.weight.clone()
    message = (r'Checkpoint key fusion_head\.fc_cls\.weight has shape '
               r'\(10, 32\) \(10 classes\), the model\'s has \(6, 32\) '
               r'\(num_classes=6\)')
    with pytest.raises(ValueError, match=message):
        load_checkpoint(six, path)
    assert torch.equal(six.fusion_head.fc_cls.weight, before)


def test_tools_test_route_refuses_the_wrong_class_count(tmp_path):
    """Runner(load_from=...).test(), as tools/test.py runs it."""
    path = save(build(tmp_path), tmp_path / 'ten_classes.pth')
    cfg = tiny_avdigits_config(tmp_path / 'work')
    cfg.model.fusion_head.num_classes = 6
    cfg.test_dataloader.dataset.metainfo = dict(
        classes=['zero', 'one', 'two', 'three', 'four', 'five'])
    cfg.test_dataloader.dataset.ann_file = str(tmp_path / 'six.txt')
    (tmp_path / 'six.txt').write_text(
        'images/val/0_lucas_0.png audio/val/0_lucas_0.flac 0\n')
    cfg.load_from = path
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'fusion_head\.fc_cls\.weight'):
        runner.test()
