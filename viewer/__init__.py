"""The clinician review application (``eegmon.viewer``); imports Qt only when opened."""
