"""faceid: private desktop face verification."""
__version__ = "0.1.0"
