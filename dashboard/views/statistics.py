"""Statistics page: throughput, stage durations, success rates, retries and errors over time,
by kind and collection (``inlet.stats()``)."""

from __future__ import annotations

import streamlit as st

from dashboard import helpers, resources, strings

settings = resources.settings()
figures = resources.statistics(settings)
health = figures["health"]

st.title(strings.STATISTICS_TITLE)
st.caption(strings.STATISTICS_INTRO)

by_kind = figures["by_kind"]
metrics = st.columns(5)
metrics[0].metric(strings.METRIC_SOURCES, int(by_kind["sources"].sum()) if by_kind.height else 0)
metrics[1].metric(strings.METRIC_SUCCESS_RATE, helpers.percent(helpers.success_rate(by_kind)))
metrics[2].metric(strings.METRIC_RUNNING, health.get("running", 0))
metrics[3].metric(strings.METRIC_QUEUED, health.get("queued", 0))
metrics[4].metric(strings.METRIC_ERRORS_24H, health.get("errors_24h", 0))

if figures["throughput"].height == 0 and figures["stages"].height == 0:
    st.info(strings.NO_STATISTICS, icon=":material/info:")
else:
    st.subheader(strings.THROUGHPUT_HEADER)
    throughput = helpers.throughput(figures["throughput"])
    st.bar_chart(throughput.to_pandas(), x="time", y="files", color="kind", height=260)

    left, right = st.columns(2)
    with left:
        st.subheader(strings.STAGES_HEADER)
        st.caption(strings.STAGES_CAPTION)
        durations = helpers.stage_durations(figures["stages"])
        st.altair_chart(helpers.stage_chart(durations), use_container_width=True)
    with right:
        st.subheader(strings.SUCCESS_HEADER)
        st.dataframe(helpers.labelled(helpers.outcome_table(by_kind, "kind")), hide_index=True)
        st.dataframe(helpers.labelled(helpers.outcome_table(figures["by_collection"], "collection")),
                     hide_index=True)  # fmt: skip

    memory = helpers.stage_memory(figures["stages"])
    if memory.height:
        st.subheader(strings.MEMORY_HEADER)
        st.caption(strings.MEMORY_CAPTION)
        st.dataframe(memory, hide_index=True)

    st.subheader(strings.RETRIES_HEADER)
    retries = figures["retries"]
    st.markdown(strings.RETRIES_TEXT.format(retries=int(retries.get("retries") or 0),
                                            retried=int(retries.get("retried") or 0),
                                            recovered=int(retries.get("recovered") or 0)))  # fmt: skip

    st.subheader(strings.ERRORS_OVER_TIME_HEADER)
    errors = figures["errors_by_class"]
    if errors.height:
        st.bar_chart(helpers.errors_over_time(errors).to_pandas(), x="time", y="errors", color="class",
                     height=220)  # fmt: skip
    else:
        st.success(strings.NO_ERRORS, icon=":material/check_circle:")

    searches = figures["searches"]
    if searches.height and int(searches["queries"].max() or 0):
        st.subheader(strings.SEARCHES_HEADER)
        st.dataframe(helpers.labelled(searches), hide_index=True)

st.caption(strings.STORE_CAPTION.format(home=settings.home))
