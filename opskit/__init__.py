"""opskit: run an IGA-to-Delinea SCIM integration — onboarding, token checks, permission audits
and group-gap reports, against a real tenant or the built-in practice tenant."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opskit")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
