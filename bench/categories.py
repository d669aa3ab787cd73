"""Category accuracy: a labelled set of public texts of clearly different kinds, indexed through the
engine with one label per kind, scored against the labels the texts were chosen for.

It prints figures; it is not a test. The set is built in a temporary folder from files already on
this machine (nothing is fetched), each document's origin printed beside it:

* ``medicine``: the first 10 abstracts of BEIR SciFact (``../shared/data/retrieval/scifact``,
  CC BY-NC 2.0, for evaluation only): biomedical research;
* ``law``: 10 software licences of different families found in the installed packages'
  ``*.dist-info`` folders (MIT, BSD, Apache, ...; one text per family): legal terms;
* ``software``: the docstrings of 10 modules of Python's standard library (PSF licence):
  programming documentation;
* ``history``: the four historical American texts of ``samples/corpus`` (public domain) and the
  six pages of ``pypdf/Seige_of_Vicksburg_Sample_OCR.pdf`` (a Civil War memoir, pypdf's test
  resources) as one file each.

Run from the project folder (about two minutes on 2 cores):

    .venv/bin/python bench/categories.py [--min-similarity 0.2] [--json]
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SHARED = ROOT.parent / "shared" / "data"
LABELS = [
    "medicine: clinical research, patients, disease, cells, genes, treatment",
    "law: licence terms, rights, permissions, conditions, warranty, liability",
    "software: programming, functions, modules, classes, arguments, data formats",
    "history: past events, battles, soldiers, war, presidents' speeches, earlier centuries",
]
LICENCE_FAMILIES = {
    "Apache": "Apache License", "GPL": "GNU GENERAL PUBLIC LICENSE", "LGPL": "GNU LESSER GENERAL PUBLIC",
    "MPL": "Mozilla Public License", "PSF": "PYTHON SOFTWARE FOUNDATION LICENSE",
    "BSD": "Redistribution and use in source and binary forms", "ISC": "Permission to use, copy, modify, and/or",
    "MIT": "Permission is hereby granted, free of charge",
}  # fmt: skip
"""A licence's family, by a phrase of its text (checked in this order)."""
STDLIB = ["json", "argparse", "asyncio", "csv", "difflib", "heapq", "pickle", "sqlite3", "string", "unittest"]
TARGET = 0.85


def build(folder: Path) -> list[tuple[str, str, str]]:
    """Write the labelled set into ``folder``; ``(file, label, origin)`` per document."""
    import pypdf

    docs: list[tuple[str, str, str]] = []

    def put(name: str, text: str, label: str, origin: str) -> None:
        (folder / name).write_text(text, encoding="utf-8")
        docs.append((name, label, origin))

    with (SHARED / "retrieval" / "scifact" / "corpus.jsonl").open(encoding="utf-8") as fh:
        for _, line in zip(range(10), fh, strict=False):
            row = json.loads(line)
            put(f"scifact-{row['_id']}.txt", f"{row['title']}\n\n{row['text']}", "medicine",
                f"BEIR SciFact corpus.jsonl _id {row['_id']}")  # fmt: skip

    families: dict[str, int] = {}
    site = Path(sysconfig.get_paths()["purelib"])
    for licence in sorted(site.glob("*.dist-info/**/LICEN[CS]E*")):
        if not licence.is_file() or sum(families.values()) >= 10:
            continue
        text = licence.read_text("utf-8", errors="replace")
        family = next((f for f, marker in LICENCE_FAMILIES.items() if marker in text), None)
        if family is None or families.get(family, 0) >= 2 or not 600 < len(text) < 40_000:
            continue  # at most two texts of one family, so the set is not ten copies of MIT
        families[family] = families.get(family, 0) + 1
        package = next(p.name for p in licence.parents if p.name.endswith(".dist-info"))
        put(f"licence-{package}.txt", text, "law", f"{licence.relative_to(site)} ({family} licence text)")

    for name in STDLIB:
        module = importlib.import_module(name)
        put(
            f"stdlib-{name}.txt",
            module.__doc__ or "",
            "software",
            f"Python {sys.version.split()[0]} stdlib `{name}` docstring",
        )

    for path in sorted((ROOT / "samples" / "corpus").iterdir()):
        if path.suffix in (".pdf", ".md"):
            shutil.copy(path, folder / path.name)
            docs.append((path.name, "history", f"samples/corpus/{path.name} (public domain)"))
    reader = pypdf.PdfReader(SHARED / "pdfs" / "pypdf" / "Seige_of_Vicksburg_Sample_OCR.pdf")
    for number, page in enumerate(reader.pages, 1):
        put(f"vicksburg-p{number}.txt", page.extract_text() or "", "history",
            f"pypdf tests Seige_of_Vicksburg_Sample_OCR.pdf page {number}")  # fmt: skip
    return docs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min-similarity", type=float, default=None, help="category_min_similarity")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line last")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="inlet-categories-"))
    try:
        os.environ["INLET_HOME"] = str(tmp / "home")
        from pipelines.config import get_settings
        from pipelines.extract import extract
        from pipelines.index import index_sources
        from pipelines.sources import inspect
        from pipelines.store import Store

        folder = tmp / "docs"
        folder.mkdir()
        docs = build(folder)
        settings = get_settings(category_min_similarity=args.min_similarity)
        from pipelines.analyse import parse_label

        Store(settings).set_labels("bench", [parse_label(label) for label in LABELS])
        extractions = [extract(inspect(str(folder / name), settings), settings) for name, _, _ in docs]
        index_sources(extractions, collection="bench", settings=settings)
        got = {r["file"]: r for r in Store(settings).source_rows("bench").iter_rows(named=True)}
        names = [label.split(":")[0] for label in LABELS]
        confusion = {want: dict.fromkeys([*names, "none"], 0) for want in names}
        right = 0
        print(
            f"{len(docs)} documents, {len(names)} labels (min similarity {settings.category_min_similarity})"
        )
        for name, want, origin in docs:
            row = got.get(name, {})
            found = row.get("category") or "none"
            confusion[want][found] += 1
            right += found == want
            score = row.get("category_score")
            mark = "ok " if found == want else "MISS"
            print(
                f"  {mark} {want:<9} -> {found:<9} {score if score is not None else '':<7} {name}  [{origin}]"
            )
        accuracy = right / len(docs)
        print(f"\naccuracy {accuracy:.3f} ({right}/{len(docs)}); target >= {TARGET}")
        print("confusion (rows: the label chosen for the text; columns: the category found)")
        print("  " + " " * 10 + "".join(f"{n:>10}" for n in [*names, "none"]))
        for want in names:
            print(f"  {want:<10}" + "".join(f"{confusion[want][n]:>10}" for n in [*names, "none"]))
        if args.json:
            print(json.dumps({"documents": len(docs), "accuracy": accuracy, "confusion": confusion}))
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
