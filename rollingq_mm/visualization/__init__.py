"""Training-curve figures (AIR, attention shares, accuracies) from run logs."""
from .training_curves import (RunCurves, find_scalars_files, load_run_curves,
                              plot_run_curves)

__all__ = ['RunCurves', 'find_scalars_files', 'load_run_curves',
           'plot_run_curves']
