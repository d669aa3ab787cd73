import inlet

PUBLIC_MODULES = {"api", "cli", "config", "formats", "records", "uploads"}


def test_public_surface_is_exactly_all() -> None:
    import inspect

    public = {name for name in dir(inlet) if not name.startswith("_")}
    public -= {name for name in public if inspect.ismodule(getattr(inlet, name))}
    assert set(inlet.__all__) == public
    assert set(inlet.__all__) == {
        "DEFAULT_SEARCH_MODE",
        "InletError",
        "JobSummary",
        "SEARCH_MODES",
        "cancel",
        "collections",
        "delete",
        "error_classes",
        "errors",
        "export",
        "health",
        "ingest",
        "job_sources",
        "jobs",
        "keep_serving",
        "labels",
        "preload",
        "reindex",
        "retry",
        "search",
        "search_needs_embedder",
        "set_labels",
        "show",
        "sources",
        "stats",
        "status",
        "submit",
        "suggest",
        "thumbnail",
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


def test_public_modules_for_apps_declare_their_surface() -> None:
    """The modules an app may import besides ``inlet`` itself: each lists its names in ``__all__``,
    every name documented; everything else in the package is private (``inlet._*``)."""
    import importlib
    from pathlib import Path

    root = Path(inlet.__file__).parent
    found = {
        p.stem for p in root.iterdir() if not p.stem.startswith("_") and (p.suffix == ".py" or p.is_dir())
    }
    assert found == PUBLIC_MODULES
    for name in PUBLIC_MODULES - {"cli"}:
        module = importlib.import_module(f"inlet.{name}")
        assert module.__doc__ and module.__all__, name
        for attr in module.__all__:
            assert getattr(module, attr) is not None, f"inlet.{name}.{attr}"


def test_error_classes_describe_every_class_of_the_taxonomy() -> None:
    from pipelines.errors import ALL_CLASSES, DamagedPdf

    rows = inlet.error_classes()
    assert [r["class"] for r in rows] == [c.code for c in ALL_CLASSES]
    by_class = {r["class"]: r for r in rows}
    assert by_class["damaged_pdf"] == {
        "class": "damaged_pdf",
        "name": "DamagedPdf",
        "group": "input",
        "message": "pypdf cannot read a PDF at all.",
        "hint": DamagedPdf.hint,
        "retryable": False,
    }
    assert (
        by_class["write_conflict"]["group"] == "storage" and by_class["write_conflict"]["retryable"] is True
    )
    assert by_class["internal"]["group"] is None
    stuck = by_class["stuck"]  # recorded by the worker's watchdog for a job that hung twice
    assert (stuck["group"], stuck["retryable"]) == (None, False) and "worker.log" in stuck["hint"]
    assert stuck["message"].startswith("A source left unfinished by a job that made no progress")
    assert all(r["message"] and r["hint"] and not r["message"].startswith("Raised") for r in rows)
