"""evaluation of rollingq_mm."""
