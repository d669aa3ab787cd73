"""Search page: one query over every collection (or one), each hit with its citation.

Recordings play from the cited second when the file is still where it was ingested from; a video
hit also shows its still at that second (``inlet.thumbnail``) and its length, picture and codecs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

import inlet
from dashboard import helpers, resources, strings
from inlet.formats import clock

settings = resources.settings()
stats = resources.stats(settings)
ready = stats["chunks"] > 0

st.title(strings.SEARCH_TITLE)
st.caption(strings.SEARCH_INTRO)
if not ready:
    st.info(strings.EMPTY_STORE, icon=":material/info:")

query = st.text_input(
    strings.QUERY_LABEL, key="q", placeholder=strings.QUERY_PLACEHOLDER, disabled=not ready,
    icon=strings.SEARCH_ICON, bind="query-params",
)  # fmt: skip


def use_suggestion() -> None:
    """Put the chosen suggestion in the search box (before the box is drawn again)."""
    chosen = st.session_state.get("suggestion")
    if chosen:
        st.session_state["q"] = chosen
    st.session_state["suggestion"] = None


if ready and query and query.strip():
    completions = [
        c for c in resources.suggest(settings, query.strip(), None) if c.lower() != query.strip().lower()
    ]
    if completions:
        st.pills(strings.SUGGESTIONS_LABEL, completions, key="suggestion", on_change=use_suggestion,
                 label_visibility="collapsed")  # fmt: skip

columns = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
mode_col, collection_col, kind_col, limit_col = columns
with mode_col:
    mode = st.segmented_control(
        strings.MODE_LABEL, list(strings.MODE_OPTIONS), default=inlet.DEFAULT_SEARCH_MODE, required=True,
        format_func=strings.MODE_OPTIONS.__getitem__, key="mode", help=strings.MODE_HELP,
        disabled=not ready, bind="query-params",
    )  # fmt: skip
with collection_col:
    collection = st.selectbox(
        strings.COLLECTION_LABEL, helpers.collection_options(stats), key="collection",
        disabled=not ready,
    )  # fmt: skip
with kind_col:
    kind = st.selectbox(
        strings.KIND_LABEL, helpers.kind_options(stats), format_func=helpers.kind_label,
        key="kind", disabled=not ready,
    )  # fmt: skip
with limit_col:
    limit = st.slider(strings.LIMIT_LABEL, 1, 50, 10, key="limit", disabled=not ready)
with st.expander(strings.MORE_FILTERS, icon=":material/filter_list:"):
    file_col, language_col, dates_col = st.columns([3, 2, 3])
    all_sources = resources.sources(settings)
    file = file_col.selectbox(
        strings.FILE_LABEL, helpers.file_options(all_sources), key="file", disabled=not ready
    )
    language = language_col.selectbox(strings.LANGUAGE_LABEL, helpers.language_options(all_sources),
                                      key="language", disabled=not ready)  # fmt: skip
    dates = dates_col.date_input(strings.DATES_LABEL, value=[], key="dates", help=strings.DATES_HELP,
                                 disabled=not ready)  # fmt: skip
    category_col, keyword_col = st.columns(2)
    category = category_col.selectbox(strings.CATEGORY_LABEL, helpers.category_options(all_sources),
                                      key="category", disabled=not ready)  # fmt: skip
    keyword = keyword_col.selectbox(strings.KEYWORD_LABEL, helpers.keyword_options(all_sources),
                                    key="keyword", disabled=not ready)  # fmt: skip
since, until = helpers.date_range(dates)


def show_hit(hit: dict[str, Any], paths: dict[str, str], all_collections: bool) -> None:
    """One hit: citation and score, the snippet, and a player for recordings."""
    with st.container(border=True):
        head, score = st.columns([3, 1], vertical_alignment="center")
        head.markdown(helpers.hit_heading(hit))
        note = helpers.score_text(hit["score"], mode or inlet.DEFAULT_SEARCH_MODE)
        if all_collections:
            note += " · " + strings.IN_COLLECTION.format(collection=hit["collection"])
        score.caption(note)
        if hit.get("category") or hit.get("keywords"):
            about = (
                [f":blue-badge[{helpers.markdown_escape(hit['category'])}]"] if hit.get("category") else []
            )
            st.markdown(" ".join([*about, helpers.keyword_chips(hit.get("keywords"))]))
        st.markdown(helpers.snippet_markdown(hit["snippet"]))
        if hit["kind"] in ("audio", "video"):
            path = paths.get(hit["source_id"])
            if path and Path(path).is_file():
                if hit["kind"] == "video":
                    still, player = st.columns([1, 3])
                    video = resources.video(settings, hit["source_id"])
                    # a video without sound is one passage, found by what it is: its poster shows it
                    at = helpers.media_start(hit) if video is None or video.get("audio_codec") else None
                    picture = resources.thumbnail(settings, hit["source_id"], at)
                    if picture is not None:
                        caption = (
                            strings.POSTER_CAPTION
                            if at is None
                            else strings.STILL_CAPTION.format(at=clock(at))
                        )
                        still.image(picture, caption=caption)
                    player.video(path, start_time=helpers.media_start(hit))
                    facts = helpers.video_text(video, hit["file"])
                    if facts:
                        player.caption(facts)
                else:
                    st.audio(path, start_time=helpers.media_start(hit))
            elif path:
                st.caption(strings.MEDIA_MISSING.format(path=path))


if ready and query and query.strip():
    try:
        with st.spinner(strings.SEARCHING):
            hits = resources.search(
                settings, query.strip(), mode=mode or inlet.DEFAULT_SEARCH_MODE,
                collection=helpers.filter_value(collection), kind=helpers.filter_value(kind),
                file=helpers.filter_value(file), language=helpers.filter_value(language),
                since=since, until=until, category=helpers.filter_value(category),
                keyword=helpers.filter_value(keyword), limit=int(limit),
            )  # fmt: skip
    except inlet.InletError as exc:
        st.error(strings.FAILED.format(message=exc.message, hint=exc.hint or ""),
                 icon=":material/error:")  # fmt: skip
        st.stop()
    if hits.height == 0:
        st.warning(strings.NO_HITS.format(query=query.strip(), all=strings.ALL))
    else:
        st.caption(strings.HITS_CAPTION.format(n=hits.height))
        paths = helpers.paths_by_source(resources.sources(settings))
        # name each hit's collection only when the hits can come from more than one
        several_collections = (helpers.filter_value(collection) is None
                               and len(stats["collections"]) > 1)  # fmt: skip
        for hit in hits.iter_rows(named=True):
            show_hit(hit, paths, all_collections=several_collections)

st.caption(strings.STORE_CAPTION.format(home=stats["home"]))
