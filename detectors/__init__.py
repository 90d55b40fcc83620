"""Seizure detectors: the Detector interface, bundled detectors and post-processing (``eegmon.detectors``)."""
