"""Class-name lists: the shipped ones, files, lookups."""
import pytest

from rollingq_mm.datasets import (BUILTIN_CLASS_LISTS, CREMAD_CLASSES,
                                  AnnotationError, read_class_list,
                                  resolve_classes)
from rollingq_mm.datasets.class_names import build_class_lookup

KS = resolve_classes('kinetics_sounds_31')


def test_kinetics_sounds_list_is_the_published_31():
    assert len(KS) == 31 and len(set(KS)) == 31
    assert list(KS) == sorted(KS)
    for name in ('playing bagpipes', 'tapping pen', 'stomping grapes',
                 'blowing out candles', 'dribbling basketball'):
        assert name in KS
    for absent in ('typing', 'patting', 'fingerpicking'):
        assert absent not in KS


def test_cremad_list_order():
    assert resolve_classes('cremad_6') == CREMAD_CLASSES
    assert CREMAD_CLASSES == ('NEU', 'HAP', 'SAD', 'FEA', 'DIS', 'ANG')
    assert set(BUILTIN_CLASS_LISTS) == {'kinetics_sounds_31', 'cremad_6'}


def test_class_list_file_errors(tmp_path):
    path = tmp_path / 'classes.txt'
    path.write_text('# comment\ncat\n\ndog\ncat\n')
    with pytest.raises(AnnotationError, match=r'classes.txt:5: class .cat. '
                       r'is listed twice \(first at line 2\)'):
        read_class_list(path)
    path.write_text('# only a comment\n')
    with pytest.raises(AnnotationError, match='empty'):
        read_class_list(path)
    with pytest.raises(FileNotFoundError, match='no_such_list'):
        resolve_classes('no_such_list')


def test_lookup_accepts_underscore_spellings():
    lookup = build_class_lookup(('playing bagpipes', 'singing'))
    assert lookup['playing bagpipes'] == lookup['playing_bagpipes'] == 0
    assert lookup['singing'] == 1
    with pytest.raises(AnnotationError, match='repeated'):
        resolve_classes(['a', 'b', 'a'])
