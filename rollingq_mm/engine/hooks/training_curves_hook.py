"""Draw the run's AIR / attention / accuracy curves into the work dir."""
import os.path as osp
from typing import Optional

from mmengine.dist import master_only
from mmengine.hooks import Hook

from mmaction.registry import HOOKS
from ...visualization import load_run_curves, plot_run_curves


@HOOKS.register_module()
class TrainingCurvesHook(Hook):
    """Write ``<work_dir>/<out_file>`` after training (rank 0 only).

    The figure is the one ``tools/analysis/plot_curves.py`` redraws from any
    run's logs: epoch AIR with the rotation epochs marked, attention share
    per modality, validation top-1 of the fused output and of each probe.
    It needs the visualizer's ``LocalVisBackend`` (``vis_data/scalars.json``).

    Args:
        out_file (str): file name inside the work dir.
            Defaults to 'training_curves.png'.
        title (str, optional): figure title; the experiment name when None.
            Defaults to None.
    """

    priority = 'VERY_LOW'

    def __init__(self, out_file: str = 'training_curves.png',
                 title: Optional[str] = None) -> None:
        if not out_file.endswith('.png'):
            raise ValueError(f'out_file must be a .png file, got {out_file!r}')
        self.out_file = out_file
        self.title = title

    @master_only
    def after_train(self, runner) -> None:
        curves = load_run_curves(runner.work_dir)
        path = plot_run_curves(
            {runner.experiment_name: curves},
            osp.join(runner.work_dir, self.out_file),
            title=(self.title if self.title is not None
                   else runner.experiment_name))
        runner.logger.info(f'Training curves written to {path}')
