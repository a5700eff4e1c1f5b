"""Install rollingq_mm: ``pip install -e ".[tests]"``."""
import re
from importlib import metadata
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent


def read_requirements(name: str) -> list:
    """Requirement lines of ``requirements/<name>.txt`` (comments dropped)."""
    lines = (HERE / 'requirements' / f'{name}.txt').read_text().splitlines()
    return [line.strip() for line in lines
            if line.strip() and not line.startswith('#')]


def mmcv_requirement() -> list:
    """mmcv-lite, unless a full mmcv build (with CUDA ops) is installed.

    Full mmcv and mmcv-lite write into the same ``mmcv/`` package, so never
    ask for both: a GPU user who built full mmcv keeps it.
    """
    try:
        metadata.version('mmcv')
        return ['mmcv>=2.0.1,<2.2.0']
    except metadata.PackageNotFoundError:
        return read_requirements('mmcv')


def version() -> str:
    text = (HERE / 'rollingq_mm' / 'version.py').read_text()
    return re.search(r"__version__ = '([^']+)'", text).group(1)


setup(
    name='rollingq_mm',
    version=version(),
    description='RollingQ (ICML 2025) for OpenMMLab audio-visual training',
    long_description=(HERE / 'README.md').read_text(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.9',
    packages=find_packages(include=['rollingq_mm', 'rollingq_mm.*']),
    package_data={'rollingq_mm': ['datasets/class_lists/*.txt']},
    install_requires=read_requirements('runtime') + mmcv_requirement(),
    extras_require={
        'tests': read_requirements('tests') + read_requirements('optional'),
        'optional': read_requirements('optional'),
    },
    classifiers=[
        'License :: OSI Approved :: Apache Software License',
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
