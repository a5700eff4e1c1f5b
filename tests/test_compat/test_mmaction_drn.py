"""The mmaction2 1.2.0 wheel bug (missing localizers/drn) and its fix."""
import subprocess
import sys
import textwrap

import pytest


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300)


def test_wheel_is_broken_without_the_plugin():
    """Guards the premise: if upstream fixes the wheel this test says so."""
    run = run_python('import mmaction.models')
    assert run.returncode != 0
    assert "No module named 'mmaction.models.localizers.drn'" in run.stderr


def test_plugin_makes_mmaction_and_mmpretrain_models_importable():
    run = run_python('''
        import rollingq_mm
        import mmaction.models, mmpretrain.models
        from mmengine.registry import init_default_scope
        from mmaction.registry import MODELS
        init_default_scope('mmaction')
        net = MODELS.build(dict(type='ResNetAudio', depth=50))
        print(type(net).__name__)
        try:
            MODELS.build(dict(type='DRN'))
        except KeyError as err:
            print('DRN:', err)
    ''')
    assert run.returncode == 0, run.stderr
    assert 'ResNetAudio' in run.stdout
    assert 'DRN: ' in run.stdout
    assert 'not in the mmaction::model registry' in run.stdout


def test_placeholder_class_refuses_use():
    from rollingq_mm.compat import DRNUnavailable
    with pytest.raises(ImportError,
                       match='lacks mmaction/models/localizers/drn'):
        DRNUnavailable()


def test_complete_install_is_left_untouched(tmp_path):
    """A real drn package found by an earlier finder beats the placeholder."""
    pkg = tmp_path / 'drn'
    pkg.mkdir()
    (pkg / '__init__.py').write_text('')
    (pkg / 'drn.py').write_text(
        'class DRN:\n    origin = "complete install"\n')
    run = run_python(f'''
        import importlib.util, sys
        class CompleteInstall:
            def find_spec(self, name, path=None, target=None):
                if name == 'mmaction.models.localizers.drn':
                    return importlib.util.spec_from_file_location(
                        name, {str(pkg / '__init__.py')!r},
                        submodule_search_locations=[{str(pkg)!r}])
                if name == 'mmaction.models.localizers.drn.drn':
                    return importlib.util.spec_from_file_location(
                        name, {str(pkg / 'drn.py')!r})
        sys.meta_path.insert(0, CompleteInstall())
        import rollingq_mm, mmaction.models
        from mmaction.models.localizers.drn.drn import DRN
        print(DRN.origin)
    ''')
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == 'complete install'
