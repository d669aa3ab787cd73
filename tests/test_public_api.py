import inlet


def test_public_surface_is_exactly_all() -> None:
    public = {name for name in dir(inlet) if not name.startswith("_")} - {"cli"}
    assert set(inlet.__all__) == public
    assert set(inlet.__all__) == {
        "DEFAULT_SEARCH_MODE",
        "JobSummary",
        "SEARCH_MODES",
        "cancel",
        "collections",
        "delete",
        "errors",
        "export",
        "ingest",
        "job_sources",
        "jobs",
        "reindex",
        "retry",
        "search",
        "search_needs_embedder",
        "show",
        "sources",
        "stats",
        "submit",
        "suggest",
        "wait",
    }


def test_public_functions_have_docstrings() -> None:
    for name in inlet.__all__:
        assert getattr(inlet, name).__doc__, name


def test_engine_imports_neither_prefect_nor_streamlit() -> None:
    import ast
    from pathlib import Path

    root = Path(inlet.__file__).resolve().parents[1] / "pipelines"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            assert not any(n.split(".")[0] in {"prefect", "streamlit", "flows", "inlet"} for n in names), path
