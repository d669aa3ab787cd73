"""Prefect flows over the engine in ``pipelines``.

Importing this package points Prefect at inlet's home folder (``PREFECT_HOME`` under
``INLET_HOME``) unless the user configured Prefect themselves, and turns off Prefect's
telemetry; it must therefore be imported before ``prefect`` itself.
"""

from flows._env import configure_prefect

configure_prefect()
