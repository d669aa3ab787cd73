"""Health page: models present and loaded, store sizes, where jobs run, versions."""

from __future__ import annotations

import streamlit as st

from dashboard import helpers, resources, strings

settings = resources.settings()
report = resources.health(settings)

st.title(strings.HEALTH_TITLE)
st.caption(strings.HEALTH_INTRO)

st.subheader(strings.MODELS_HEADER)
for model in report["models"]:
    role = strings.MODEL_ROLE.get(model["role"], model["role"])
    with st.container(border=True):
        if not model["name"]:
            st.markdown(f":gray-badge[{role}] " + strings.MODEL_OFF)
            continue
        if model["problem"]:
            st.markdown(f":red-badge[{role}] `{model['name']}`: "
                        + strings.MODEL_MISSING.format(message=helpers.markdown_escape(model["problem"])))  # fmt: skip
            st.markdown(strings.MODEL_INSTALL.format(hint=model["hint"]))
            continue
        if model["role"] == "embed":
            loaded = strings.MODEL_LOADED if resources.embedder_loaded(settings) else strings.MODEL_NOT_LOADED
        elif model.get("loaded"):
            loaded = strings.MODEL_LOADED
        elif model["role"] == "whisper_multilingual":
            loaded = strings.MODEL_MULTILINGUAL_IN_WORKER
        elif model["role"] == "embed_multilingual":
            loaded = strings.MODEL_MULTILINGUAL_EMBED
        else:
            loaded = strings.MODEL_IN_WORKER
        st.markdown(f":green-badge[{role}] `{model['name']}` "
                    + strings.MODEL_FOUND.format(where=model["where"]) + f"  \n{loaded}")  # fmt: skip

st.subheader(strings.BREAKERS_HEADER)
st.caption(strings.BREAKERS_CAPTION)
for row in report.get("breakers", []):
    name = strings.BREAKER_NAMES.get(row["dependency"], row["dependency"])
    st.markdown(helpers.breaker_line(name, row))

st.subheader(strings.STORES_HEADER)
st.dataframe(helpers.labelled(helpers.stores_table(report["stores"])), hide_index=True)

st.subheader(strings.MODE_HEADER)
if report["server"] is not None:
    url, ok, reason = report["server"]["url"] or "", report["server"]["ok"], report["server"]["reason"]
    st.markdown(strings.MODE_SERVER.format(url=url))
    if ok:
        st.success(strings.SERVER_UP, icon=":material/check_circle:")
    else:
        st.error(strings.SERVER_DOWN.format(url=url, reason=reason), icon=":material/error:")
else:
    local = resources.status(settings)
    if local["server_up"] and local["prefect_ui_url"]:
        st.markdown(strings.MODE_EMBEDDED_UP.format(pid=local["worker_pid"], ui=local["prefect_ui_url"]))
    else:
        st.markdown(strings.MODE_EMBEDDED)

st.subheader(strings.VERSIONS_HEADER)
st.dataframe(helpers.labelled(report["versions"]), hide_index=True)

st.caption(strings.STORE_CAPTION.format(home=settings.home))
