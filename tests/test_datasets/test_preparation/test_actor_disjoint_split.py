"""The actor-disjoint CREMA-D split: no speaker in two splits."""
import pytest

from rollingq_mm.datasets.preparation import (SplitClip, actor_disjoint_split,
                                              cremad_actor)

EMOTIONS = ('NEU', 'HAP', 'SAD', 'FEA', 'DIS', 'ANG')


def cremad_clips(num_actors, sentences=('DFA', 'IEO', 'ITS')):
    """Every actor says every sentence with every emotion."""
    return [
        SplitClip(f'{actor}_{sentence}_{emotion}_XX',
                  f'VideoFlash/{actor}_{sentence}_{emotion}_XX.flv', None,
                  label)
        for actor in range(1001, 1001 + num_actors)
        for sentence in sentences
        for label, emotion in enumerate(EMOTIONS)
    ]


def actors(clips):
    return {cremad_actor(clip) for clip in clips}


def test_no_actor_in_two_splits_and_every_clip_kept():
    clips = cremad_clips(20)
    result = actor_disjoint_split(clips, 0.2, val_fraction=0.25, seed=0)
    assert list(result) == ['train', 'val', 'test']
    train, val, test = (actors(result[name]) for name in result)
    assert not train & val and not train & test and not val & test
    # 20 actors: 4 test, then 4 of the 16 others for validation
    assert (len(train), len(val), len(test)) == (12, 4, 4)
    kept = [clip for name in result for clip in result[name]]
    assert sorted(kept) == sorted(clips)
    # each split keeps the input's order; every actor keeps all its clips
    for split in result.values():
        assert split == [clip for clip in clips if clip in split]
        assert len(split) == 18 * len(actors(split))


def test_the_published_layout_becomes_disjoint():
    # like OGM-GE's csv: every actor in both train and test
    clips = cremad_clips(10)
    published = {'train': [c for c in clips if '_ITS_' not in c.clip_id],
                 'test': [c for c in clips if '_ITS_' in c.clip_id]}
    assert actors(published['train']) == actors(published['test'])
    pooled = published['train'] + published['test'] + published['test']
    result = actor_disjoint_split(pooled, 0.3, seed=5)
    assert list(result) == ['train', 'test']
    assert len(actors(result['test'])) == 3
    assert not actors(result['train']) & actors(result['test'])
    assert len(result['train']) + len(result['test']) == len(clips)


def test_seeded_and_independent_of_the_list_order():
    clips = cremad_clips(30, sentences=('DFA', ))
    first = actor_disjoint_split(clips, 0.2, 0.1, seed=1)
    again = actor_disjoint_split(clips[::-1], 0.2, 0.1, seed=1)
    other = actor_disjoint_split(clips, 0.2, 0.1, seed=2)
    for name in first:
        assert actors(again[name]) == actors(first[name])
    assert actors(other['test']) != actors(first['test'])


def test_errors_name_the_file_and_the_fraction():
    clips = cremad_clips(5, sentences=('DFA', ))
    bad = SplitClip('DFA_ANG_XX', 'VideoFlash/DFA_ANG_XX.flv', None, 5)
    with pytest.raises(ValueError,
                       match='VideoFlash/DFA_ANG_XX.flv.*actor id'):
        actor_disjoint_split(clips + [bad], 0.2)
    with pytest.raises(ValueError, match=r'test fraction must be in \(0, 1\)'):
        actor_disjoint_split(clips, 1.0)
    with pytest.raises(ValueError, match='gives 0 test actors'):
        actor_disjoint_split(clips, 0.05)
    with pytest.raises(ValueError, match='gives 0 validation actors'):
        actor_disjoint_split(clips, 0.2, val_fraction=0.1)
