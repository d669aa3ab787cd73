"""Library page: what is indexed (per collection and kind, every source with its category,
keywords and summary, and a video's length, picture and codecs, filtered by category and
keyword), each collection's labels, and recent errors."""

from __future__ import annotations

import streamlit as st

import inlet
from dashboard import helpers, resources, strings

RECENT_ERRORS = 10
SUMMARIES = 50

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
        models = resources.collection_models(settings)
        st.dataframe(helpers.labelled(helpers.collection_table(stats, models)), hide_index=True)
    with by_kind:
        st.subheader(strings.KINDS_HEADER)
        st.dataframe(helpers.labelled(helpers.kind_table(stats, sources)), hide_index=True)
    st.subheader(strings.SOURCES_HEADER)
    category_col, keyword_col = st.columns(2)
    category = category_col.selectbox(
        strings.CATEGORY_LABEL, helpers.category_options(sources), key="library_category"
    )
    keyword = keyword_col.selectbox(
        strings.KEYWORD_LABEL, helpers.keyword_options(sources), key="library_keyword"
    )
    shown = resources.sources(
        settings, category=helpers.filter_value(category), keyword=helpers.filter_value(keyword)
    )
    st.dataframe(helpers.labelled(helpers.sources_table(shown)), hide_index=True)

    with st.expander(strings.SUMMARIES_HEADER, icon=":material/summarize:"):
        st.caption(strings.SUMMARIES_CAPTION.format(shown=min(shown.height, SUMMARIES), total=shown.height))
        for source in shown.head(SUMMARIES).iter_rows(named=True):
            with st.container(border=True):
                st.markdown(
                    f"**{helpers.markdown_escape(source['file'])}** · "
                    f"{helpers.markdown_escape(helpers.category_text(source['category'], source['category_score']))}"
                )
                if source["kind"] == "video":
                    poster = resources.thumbnail(settings, source["source_id"], None)
                    if poster is not None:
                        st.image(poster, width=160, caption=strings.POSTER_CAPTION)
                    facts = helpers.video_text(resources.video(settings, source["source_id"]), source["file"])
                    if facts:
                        st.caption(facts)
                if source["keywords"]:
                    st.markdown(helpers.keyword_chips(source["keywords"]))
                st.markdown(helpers.summary_markdown(source["summary"]) or strings.NO_SUMMARY)

    st.subheader(strings.LABELS_HEADER)
    st.caption(strings.LABELS_CAPTION)
    chosen = st.selectbox(strings.LABELS_COLLECTION, sorted(stats["collections"]), key="labels_collection")
    if chosen:
        current = helpers.labels_text(resources.labels(settings, chosen))
        with st.form("labels_form"):
            typed = st.text_area(strings.LABELS_BOX, value=current, placeholder=strings.LABELS_PLACEHOLDER,
                                 key=f"labels_{chosen}")  # fmt: skip
            save_col, clear_col = st.columns(2)
            save = save_col.form_submit_button(strings.LABELS_SAVE, type="primary")
            clear = clear_col.form_submit_button(strings.LABELS_CLEAR)
        if save or clear:
            try:
                done = inlet.set_labels(
                    chosen, None if clear else helpers.parse_labels_text(typed), settings=settings
                )
            except ValueError as exc:
                st.error(strings.LABELS_INVALID.format(message=exc), icon=":material/error:")
            else:
                resources.clear_reads()
                st.session_state.pop(f"labels_{chosen}", None)  # show the labels as stored
                message = strings.LABELS_CLEARED if clear or not done["labels"] else strings.LABELS_SAVED
                st.session_state["labels_message"] = message.format(**done)
                st.rerun()
        if st.session_state.get("labels_message"):
            st.success(st.session_state.pop("labels_message"), icon=":material/check_circle:")

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
