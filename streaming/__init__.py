"""Live sources, the streaming engine and caregiver alerts (``eegmon.streaming``)."""
