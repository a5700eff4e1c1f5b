"""datasets of rollingq_mm."""
