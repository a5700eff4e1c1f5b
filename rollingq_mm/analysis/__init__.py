"""Diagnostics of trained models: the noise probe (does attention follow
input quality?) and its summaries."""
from .noise_probe import (NoiseSetting, ProbeRecorder, check_probe_args,
                          corrupt_pipeline, modality_input_keys,
                          probe_settings, run_noise_probe)
from .probe_figure import plot_noise_probe
from .probe_outputs import (format_probe_report, probe_tables,
                            save_probe_results)
from .run_table import mean_std
from .probe_summary import (accuracy_by_level, attention_quality_correlation,
                            read_csv, setting_summary, top1, write_csv)

__all__ = [
    'NoiseSetting', 'ProbeRecorder', 'check_probe_args', 'corrupt_pipeline',
    'modality_input_keys', 'probe_settings', 'run_noise_probe',
    'plot_noise_probe', 'format_probe_report', 'probe_tables',
    'save_probe_results', 'accuracy_by_level',
    'attention_quality_correlation', 'read_csv', 'setting_summary', 'top1',
    'write_csv', 'mean_std'
]
