"""engine of rollingq_mm."""
