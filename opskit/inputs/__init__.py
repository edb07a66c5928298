"""The files people bring, read in one place: every problem named with file, line and column.

- :mod:`opskit.inputs.audit`: the permission audit's planned-changes CSV and folder export, and
  the grant history it keeps between runs;
- :mod:`opskit.inputs.groups`: the group-gap report's IGA entitlement export and Secret Server
  group export (or whatever the caller has for Secret Server);
- :mod:`opskit.inputs.iga_settings`: the IGA settings file the token check and the onboarding
  runbook compare with the tenant.

CSV parsing itself is :mod:`opskit.csvfile`. The analysis (``audit``, ``groupgap``, ``checks``)
reads no file: the reports call these readers and hand their results on. Import the module you
need; this package imports none of them, so reading a settings file does not load pandas.
"""
