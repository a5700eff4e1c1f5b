"""Split arguments, video indexing and the validation carve-out."""
import pytest

from rollingq_mm.datasets.preparation import (SplitClip, add_validation_split,
                                              index_videos, parse_split_args)


def clips(count_per_label):
    return [SplitClip(f'c{label}_{i:03d}', f'v{label}_{i}.mp4', None, label)
            for label, count in enumerate(count_per_label)
            for i in range(count)]


def test_validation_carve_out_is_per_class_and_order_free():
    splits = {'train': clips([20, 10, 3]), 'test': clips([2])}
    result = add_validation_split(splits, 'train', 0.2, seed=3)
    val, train = result['val'], result['train']
    assert [sum(c.label == k for c in val) for k in range(3)] == [4, 2, 1]
    assert {c.clip_id for c in val}.isdisjoint(c.clip_id for c in train)
    assert len(val) + len(train) == 33 and result['test'] == splits['test']
    assert train == [c for c in splits['train'] if c in train]
    shuffled = {'train': splits['train'][::-1]}
    again = add_validation_split(shuffled, 'train', 0.2, seed=3)
    assert {c.clip_id for c in again['val']} == {c.clip_id for c in val}
    other = add_validation_split(splits, 'train', 0.2, seed=4)
    assert {c.clip_id for c in other['val']} != {c.clip_id for c in val}


def test_validation_carve_out_errors():
    splits = {'train': clips([4]), 'val': clips([1])}
    with pytest.raises(ValueError, match='already given'):
        add_validation_split(splits, 'train', 0.1)
    with pytest.raises(ValueError, match="out of split 'dev'"):
        add_validation_split({'train': clips([4])}, 'dev', 0.1)
    with pytest.raises(ValueError, match=r'in \(0, 1\)'):
        add_validation_split({'train': clips([4])}, 'train', 1.0)


def test_parse_split_args():
    assert parse_split_args(['train=a.txt', 'test=b=c.txt']) == {
        'train': 'a.txt', 'test': 'b=c.txt'}
    with pytest.raises(ValueError, match='NAME=FILE'):
        parse_split_args(['train'])
    with pytest.raises(ValueError, match='given twice'):
        parse_split_args(['a=x', 'a=y'])


def test_index_videos(tmp_path):
    (tmp_path / 'a' / 'b').mkdir(parents=True)
    (tmp_path / 'a' / 'x_000001_000011.mp4').write_bytes(b'')
    (tmp_path / 'a' / 'b' / 'y.MKV').write_bytes(b'')
    (tmp_path / 'a' / 'notes.txt').write_bytes(b'')
    index = index_videos(str(tmp_path))
    assert sorted(index) == ['x_000001_000011', 'y']
    (tmp_path / 'a' / 'b' / 'y.mp4').write_bytes(b'')
    with pytest.raises(ValueError, match='two videos for clip y'):
        index_videos(str(tmp_path))
    with pytest.raises(FileNotFoundError, match='nowhere'):
        index_videos(str(tmp_path / 'nowhere'))
