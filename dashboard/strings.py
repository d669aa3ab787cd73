"""Every piece of text the dashboard shows, in one place (STYLE habit 15).

Pages import these constants; tests assert on the same constants, so wording can change here
without breaking a test. Strings with ``{…}`` fields are filled with ``str.format``.
"""

from __future__ import annotations

# --- app -----------------------------------------------------------------------------------
APP_TITLE = "inlet"
APP_ICON = ":material/manage_search:"

# --- navigation ----------------------------------------------------------------------------
SEARCH_NAV = "Search"
SEARCH_ICON = ":material/search:"
LIBRARY_NAV = "Library"
LIBRARY_ICON = ":material/library_books:"

# --- shared --------------------------------------------------------------------------------
ALL = "All"
STORE_CAPTION = "Store: `{home}`"
EMPTY_STORE = (
    "Nothing is indexed yet. Add documents and recordings from a terminal with "
    "`inlet ingest PATH` (for example `inlet ingest ~/papers --collection research`), "
    "then come back to this page."
)
KIND_LABELS = {"pdf": "PDF", "text": "Text", "audio": "Audio", "video": "Video"}
KIND_ICONS = {
    "pdf": ":material/picture_as_pdf:",
    "text": ":material/article:",
    "audio": ":material/graphic_eq:",
    "video": ":material/movie:",
}
UNKNOWN_ICON = ":material/draft:"
FAILED = "{message}  \n**What to do:** {hint}"

# --- search page ---------------------------------------------------------------------------
SEARCH_TITLE = "Search"
SEARCH_INTRO = (
    "Find passages in your documents and recordings, each with the page or the second it comes from."
)
QUERY_LABEL = "Search for"
QUERY_PLACEHOLDER = "a question or a few words, e.g. ask not what your country can do for you"
MODE_LABEL = "Match by"
MODE_OPTIONS = {"vector": "Meaning", "text": "Keywords", "hybrid": "Both"}
MODE_HELP = (
    "**Meaning** finds passages that say the same thing in other words (vector search). "
    "**Keywords** finds the words themselves; put a phrase in double quotes. "
    "**Both** merges the two rankings."
)
COLLECTION_LABEL = "Collection"
KIND_LABEL = "Kind"
LIMIT_LABEL = "Results"
LOADING_MODEL = "Loading the embedding model (once per dashboard process)…"
SEARCHING = "Searching…"
NO_HITS = "No passages match “{query}”. Try other words, another mode, or “{all}” collections."
HITS_CAPTION = "{n} passages, best first."
SCORE_LABELS = {"vector": "similarity", "text": "keyword score", "hybrid": "fused score"}
SCORE = "{label} {score:.3f}"
IN_COLLECTION = "collection `{collection}`"
MEDIA_MISSING = "The recording is no longer at `{path}`, so it cannot be played here."
SEARCH_FAILED = "The search failed."

# --- library page --------------------------------------------------------------------------
LIBRARY_TITLE = "Library"
LIBRARY_INTRO = "What is indexed, per collection and kind, and what went wrong."
METRIC_SOURCES = "Sources"
METRIC_CHUNKS = "Passages"
METRIC_COLLECTIONS = "Collections"
METRIC_JOBS = "Jobs"
METRIC_ERRORS = "Errors"
COLLECTIONS_HEADER = "Collections"
KINDS_HEADER = "Kinds"
SOURCES_HEADER = "Sources"
ERRORS_HEADER = "Recent errors"
NO_ERRORS = "No errors recorded."
ERRORS_CAPTION = (
    "The latest {shown} of {total} errors, newest first. `inlet errors --json` lists them all with details."
)

# Column headings of the library tables (keys are the helpers' column names).
COLUMNS = {
    "collection": "Collection",
    "kind": "Kind",
    "sources": "Sources",
    "chunks": "Passages",
    "file": "File",
    "length": "Length",
    "size": "Size",
    "language": "Language",
    "ingested_at": "Ingested",
    "path": "Path",
    "at": "When",
    "class": "Error",
    "message": "Message",
    "hint": "What to do",
    "stage": "Stage",
    "retryable": "Retried",
}
PAGES = "{n} pages"
ONE_PAGE = "1 page"
