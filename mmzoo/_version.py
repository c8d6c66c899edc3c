"""The package version, on its own so that any module can read it without importing the whole package."""
__version__ = "0.2.0"
