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
    {
        strings.NAV_WORK: [
            st.Page("views/upload.py", title=strings.UPLOAD_NAV, icon=strings.UPLOAD_ICON, url_path="upload"),
            st.Page("views/jobs.py", title=strings.JOBS_NAV, icon=strings.JOBS_ICON, url_path="jobs"),
        ],
        strings.NAV_FIND: [
            st.Page("views/search.py", title=strings.SEARCH_NAV, icon=strings.SEARCH_ICON, default=True),
            st.Page("views/library.py", title=strings.LIBRARY_NAV, icon=strings.LIBRARY_ICON, url_path="library"),
        ],
        strings.NAV_WATCH: [
            st.Page("views/statistics.py", title=strings.STATISTICS_NAV, icon=strings.STATISTICS_ICON,
                    url_path="statistics"),
            st.Page("views/errors.py", title=strings.ERRORS_NAV, icon=strings.ERRORS_ICON, url_path="errors"),
            st.Page("views/health.py", title=strings.HEALTH_NAV, icon=strings.HEALTH_ICON, url_path="health"),
        ],
    }
)  # fmt: skip
navigation.run()
