"""models of rollingq_mm."""
