"""The words of inlet's data, for programs that read it (the dashboard, a notebook, an app): the
kinds of source and the job statuses, as the engine defines them.

>>> from inlet.records import KINDS, is_media
>>> KINDS, is_media("video")
(('pdf', 'text', 'html', 'docx', 'pptx', 'xlsx', 'odt', 'ods', 'odp', 'epub', 'email', 'image', 'audio', 'video'), True)
"""

from pipelines.records import FINISHED_STATUSES, KINDS, MEDIA_KINDS, JobStatus, Kind, is_media

__all__ = ["FINISHED_STATUSES", "KINDS", "MEDIA_KINDS", "JobStatus", "Kind", "is_media"]
