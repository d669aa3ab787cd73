"""The settings every inlet function takes (``settings=``), for apps that hold one: read from the
``INLET_*`` environment by :func:`get_settings`, each field documented where it is declared.

>>> from inlet.config import get_settings
>>> get_settings(collection="research").collection
'research'
"""

from pipelines.config import Settings, get_settings

__all__ = ["Settings", "get_settings"]
