"""opskit's version, from the installed package's metadata (the User-Agent and results.json
carry it). Below everything, so any layer may name it."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opskit")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
