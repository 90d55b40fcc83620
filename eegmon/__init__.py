"""eegmon: home seizure monitoring with ultra-long-term subscalp EEG.

Research software, not a certified medical device.
"""

from importlib.metadata import PackageNotFoundError, version

from .errors import EegmonError

try:
    __version__ = version("eegmon")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["EegmonError", "__version__"]
