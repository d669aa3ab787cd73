"""How inlet writes sizes, times and file names for people, for programs that show inlet's data (the dashboard,
a notebook, an app): the same rules the CLI and inlet's own messages use.

>>> from inlet.formats import clock, human_size
>>> clock(3725.25), human_size(4900)
('1:02:05.2', '4.9 kB')
"""

from pipelines.formats import clock, container_name, human_size, printable

__all__ = ["clock", "container_name", "human_size", "printable"]
