"""Upload page: drop files, choose collection and priority; checked files become one job.

Files are streamed to ``home/uploads`` and checked there (``inlet.uploads``); the job is
handed to ``inlet.submit``, which returns at once: the work runs in the local worker (or on the
Prefect server), never in this script, so closing the tab does not stop it.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import inlet
from dashboard import helpers, resources, strings
from inlet.uploads import accept_uploads, upload_limit_mb

settings = resources.settings()
stats = resources.stats(settings)

st.title(strings.UPLOAD_TITLE)
st.caption(strings.UPLOAD_INTRO)
st.caption(helpers.limits_text(settings))

# A new key after each submission empties the uploader (its files are on disk by then).
generation = st.session_state.setdefault("upload_generation", 0)
files = st.file_uploader(
    strings.UPLOAD_LABEL, accept_multiple_files=True, key=f"files-{generation}",
    help=strings.UPLOAD_HELP, max_upload_size=upload_limit_mb(settings),
)  # fmt: skip
left, right = st.columns([3, 2], vertical_alignment="bottom")
with left:
    collection = st.selectbox(
        strings.UPLOAD_COLLECTION_LABEL, helpers.upload_collections(stats, settings.collection),
        key="upload_collection", accept_new_options=True, help=strings.UPLOAD_COLLECTION_HELP,
    )  # fmt: skip
with right:
    priority = st.segmented_control(
        strings.UPLOAD_PRIORITY_LABEL, list(strings.PRIORITY_OPTIONS), default="normal", required=True,
        format_func=strings.PRIORITY_OPTIONS.__getitem__, key="upload_priority",
    )  # fmt: skip
submit = st.button(strings.UPLOAD_BUTTON, type="primary", icon=strings.UPLOAD_ICON, key="upload_submit")

if submit:
    name = helpers.collection_name(collection)
    if not files:
        st.warning(strings.UPLOAD_NOTHING, icon=":material/warning:")
    elif name is None:
        st.warning(strings.UPLOAD_BAD_COLLECTION, icon=":material/warning:")
    else:
        with st.spinner(strings.UPLOAD_CHECKING.format(n=len(files))):
            batch = accept_uploads([(f.name, f) for f in files], settings=settings)
        result: dict[str, Any] = {
            "rejected": [helpers.rejection_text(r.name, r.error) for r in batch.rejected]
        }
        if batch.accepted:
            try:
                job_id = inlet.submit(batch.paths, name, priority=priority or "normal", settings=settings)
            except (inlet.InletError, ValueError, OSError) as exc:
                result["failed"] = strings.UPLOAD_SUBMIT_FAILED.format(folder=batch.folder, message=exc)
            else:
                result["job_id"] = job_id
                result["accepted"] = [a.name for a in batch.accepted]
                st.query_params["job"] = job_id
                resources.clear_reads()
        st.session_state["upload_outcome"] = result
        st.session_state["upload_generation"] = generation + 1
        st.rerun()

# The outcome of the last submission, kept across the rerun that emptied the uploader.
outcome = st.session_state.get("upload_outcome")
if outcome:
    for message in outcome["rejected"]:
        st.error(message, icon=":material/block:")
    if outcome.get("failed"):
        st.error(outcome["failed"], icon=":material/error:")
    elif outcome.get("job_id"):
        st.success(
            helpers.accepted_text(outcome["accepted"], outcome["job_id"]), icon=":material/check_circle:"
        )
        st.page_link("views/jobs.py", label=strings.UPLOAD_SEE_JOB, icon=strings.JOBS_ICON,
                     query_params={"job": outcome["job_id"]})  # fmt: skip
    else:
        st.warning(strings.UPLOAD_NONE_ACCEPTED, icon=":material/warning:")

st.caption(strings.STORE_CAPTION.format(home=stats["home"]))
