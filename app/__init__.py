"""Preflab: turn LLM outputs into training data and training data into better models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("preflab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
