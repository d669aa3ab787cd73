"""The inlet dashboard: ``inlet dashboard``, or ``streamlit run dashboard/app.py``.

The entrypoint only sets up the page and the navigation; each page lives in ``views/``
(not ``pages/``, which Streamlit would also pick up as a legacy page folder).
``import dashboard`` works from any working directory because the package is installed
(editable in development), so no ``sys.path`` change is needed.
"""

from __future__ import annotations

import streamlit as st

from dashboard import strings

st.set_page_config(page_title=strings.APP_TITLE, page_icon=strings.APP_ICON, layout="wide")

navigation = st.navigation(
    [
        st.Page("views/search.py", title=strings.SEARCH_NAV, icon=strings.SEARCH_ICON, default=True),
        st.Page("views/library.py", title=strings.LIBRARY_NAV, icon=strings.LIBRARY_ICON),
    ]
)
navigation.run()
