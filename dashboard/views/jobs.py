"""Jobs page: running and recent jobs, refreshed live by a ``run_every`` fragment.

Each job shows its status, a stage-weighted progress bar with the ETA, the current stage of
each file, the last message, and buttons to cancel it or retry its failed files. The job
chosen on the Upload page (or opened from a link) is in the URL (``?job=…``), so a reopened
tab shows the same job. The work itself runs in the worker, never in this script; if the
worker died with jobs left, the page starts a new one, which resumes them.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import inlet
from dashboard import helpers, resources, strings

RECENT = 20

settings = resources.settings()

st.title(strings.JOBS_TITLE)
st.caption(strings.JOBS_INTRO.format(seconds=resources.REFRESH_S))

notice = st.session_state.pop("jobs_notice", None)
if notice:
    st.info(notice, icon=":material/info:")


def cancel(job_id: str) -> None:
    outcome = inlet.cancel(job_id, settings=settings)
    template = strings.CANCEL_OUTCOME.get(outcome, strings.CANCEL_OUTCOME["unknown"])
    st.session_state["jobs_notice"] = template.format(job_id=job_id)
    resources.clear_reads()


def retry(job_id: str) -> None:
    new_ids = inlet.retry(job_id, settings=settings)
    if new_ids:
        st.session_state["jobs_notice"] = strings.RETRIED.format(job_id=job_id, new_id=", ".join(new_ids))
        st.query_params["job"] = new_ids[-1]
    else:
        st.session_state["jobs_notice"] = strings.NOTHING_TO_RETRY.format(job_id=job_id)
    resources.clear_reads()


def show_job(job: dict[str, Any], selected: bool) -> None:
    """One job as an ``st.status`` box: progress, files, last message, actions."""
    state = helpers.status_state(job["status"])
    expanded = selected or state == "running"
    # Drawn into without a ``with`` block: leaving one would mark a running job "complete".
    box = st.status(helpers.job_label(job), state=state, expanded=expanded)
    box.progress(helpers.progress_value(job), text=helpers.progress_text(job))
    box.caption(helpers.job_summary(job))
    sources = resources.job_sources(settings, job["job_id"])
    message = helpers.last_message(sources)
    if message:
        box.markdown(helpers.markdown_escape(message))
    if job.get("stuck"):
        box.warning(strings.STUCK, icon=":material/hourglass_disabled:")
    if sources.height:
        box.dataframe(
            helpers.labelled(helpers.job_sources_table(sources)), hide_index=True,
            column_config={strings.COLUMNS["progress"]: st.column_config.ProgressColumn(
                strings.COLUMNS["progress"], min_value=0, max_value=100, format="%d%%")},
        )  # fmt: skip
    actions = box.columns(3)
    if not helpers.finished(job):
        actions[0].button(strings.CANCEL, key=f"cancel-{job['job_id']}", on_click=cancel,
                          args=(job["job_id"],), icon=":material/cancel:")  # fmt: skip
    if int(job.get("failed") or 0) and helpers.finished(job):
        actions[1].button(strings.RETRY_FAILED, key=f"retry-{job['job_id']}", on_click=retry,
                          args=(job["job_id"],), icon=":material/replay:")  # fmt: skip
    url = job.get("flow_run_url")
    if url:
        actions[2].link_button(strings.PREFECT_LINK, url, icon=":material/open_in_new:")


@st.fragment(run_every=resources.REFRESH_S)
def live_jobs() -> None:
    if inlet.keep_serving(settings=settings):  # the worker died: a new one resumes its job
        st.toast(strings.WORKER_RESTARTED, icon=":material/restart_alt:")
    jobs = resources.jobs(settings)
    if jobs.height == 0:
        st.info(strings.NO_JOBS, icon=":material/info:")
        return
    wanted = st.query_params.get("job")
    chosen = helpers.pick_job(jobs, wanted)
    if wanted and chosen is None:
        st.warning(strings.JOB_NOT_FOUND.format(job_id=wanted), icon=":material/search_off:")
    rows = jobs.to_dicts()
    if chosen:
        show_job(next(j for j in rows if j["job_id"] == chosen), selected=True)
        if len(rows) > 1:
            st.subheader(strings.RECENT_JOBS)
    for i, job in enumerate(rows[:RECENT]):
        if job["job_id"] != chosen:
            show_job(job, selected=not chosen and i == 0)  # the newest job opens when none is chosen


live_jobs()
st.caption(strings.STORE_CAPTION.format(home=settings.home))
