"""Errors page: failures grouped by class, with counts, the latest message, what to do, the
detail, and buttons to retry a whole group or one file (as a new job through ``inlet.submit``)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import inlet
from dashboard import helpers, resources, strings

ROWS_PER_GROUP = 20

settings = resources.settings()
errors = resources.errors(settings)

st.title(strings.ERRORS_TITLE)
st.caption(strings.ERRORS_INTRO)

notice = st.session_state.pop("errors_notice", None)
if notice:
    st.success(notice, icon=":material/replay:")


def retry(rows: list[dict]) -> None:
    """Submit the files of ``rows`` that still exist again, one job per collection."""
    by_collection: dict[str, list[str]] = {}
    for row in rows:
        if row.get("path") and Path(row["path"]).is_file():
            by_collection.setdefault(row.get("collection") or settings.collection, []).append(row["path"])
    jobs = [inlet.submit(sorted(set(paths)), collection, settings=settings)
            for collection, paths in by_collection.items()]  # fmt: skip
    if jobs:
        st.session_state["errors_notice"] = strings.RETRY_SUBMITTED.format(job_id=", ".join(jobs))
        st.query_params["job"] = jobs[-1]
    resources.clear_reads()


groups = helpers.error_groups(errors)
if not groups:
    st.success(strings.NO_ERRORS, icon=":material/check_circle:")
else:
    metrics = st.columns(2)
    metrics[0].metric(strings.METRIC_ERRORS, errors.height)
    metrics[1].metric(strings.ERROR_CLASSES, len(groups))
for group in groups:
    label = strings.ERROR_GROUP.format(label=group["class"], count=group["count"])
    with st.expander(label, expanded=len(groups) <= 3, icon=":material/error:"):
        st.markdown(helpers.group_markdown(group))
        rows = group["rows"].head(ROWS_PER_GROUP).to_dicts()
        # the whole traceback where one was kept (unexpected errors), else the one-line detail
        detail = next(
            (r.get("traceback") or r["detail"] for r in rows if r.get("traceback") or r.get("detail")), None
        )
        if detail:
            st.caption(strings.DETAIL)
            st.code(detail, language=None)
        if not group["retryable"]:
            st.caption(strings.RETRY_NOT_RETRYABLE)
        st.button(strings.RETRY_GROUP.format(n=len({r.get("path") for r in rows})), key=f"retry-{group['class']}",
                  on_click=retry, args=(rows,), icon=":material/replay:")  # fmt: skip
        for i, row in enumerate(rows):
            file_col, button_col = st.columns([5, 1], vertical_alignment="center")
            file_col.markdown(helpers.error_markdown(row))
            button_col.button(strings.RETRY_ONE, key=f"retry-{group['class']}-{i}", on_click=retry,
                              args=([row],), icon=":material/replay:")  # fmt: skip

st.caption(strings.STORE_CAPTION.format(home=settings.home))
