"""Library page: what is indexed (per collection and kind, every source) and recent errors."""

from __future__ import annotations

import streamlit as st

from dashboard import helpers, resources, strings

RECENT_ERRORS = 10

settings = resources.settings()
stats = resources.stats(settings)
sources = resources.sources(settings)

st.title(strings.LIBRARY_TITLE)
st.caption(strings.LIBRARY_INTRO)
if stats["sources"] == 0:
    st.info(strings.EMPTY_STORE, icon=":material/info:")

metrics = st.columns(5)
metrics[0].metric(strings.METRIC_SOURCES, stats["sources"])
metrics[1].metric(strings.METRIC_CHUNKS, stats["chunks"])
metrics[2].metric(strings.METRIC_COLLECTIONS, len(stats["collections"]))
metrics[3].metric(strings.METRIC_JOBS, stats["jobs"])
metrics[4].metric(strings.METRIC_ERRORS, stats["errors"])

if stats["sources"]:
    by_collection, by_kind = st.columns(2)
    with by_collection:
        st.subheader(strings.COLLECTIONS_HEADER)
        st.dataframe(helpers.labelled(helpers.collection_table(stats)), hide_index=True)
    with by_kind:
        st.subheader(strings.KINDS_HEADER)
        st.dataframe(helpers.labelled(helpers.kind_table(stats, sources)), hide_index=True)
    st.subheader(strings.SOURCES_HEADER)
    st.dataframe(helpers.labelled(helpers.sources_table(sources)), hide_index=True)

st.subheader(strings.ERRORS_HEADER)
errors = resources.errors(settings)
if errors.height == 0:
    st.success(strings.NO_ERRORS, icon=":material/check_circle:")
else:
    recent = helpers.errors_table(errors, limit=RECENT_ERRORS)
    st.caption(strings.ERRORS_CAPTION.format(shown=recent.height, total=errors.height))
    for error in recent.iter_rows(named=True):
        with st.container(border=True):
            st.markdown(helpers.error_markdown(error))

st.caption(strings.STORE_CAPTION.format(home=stats["home"]))
