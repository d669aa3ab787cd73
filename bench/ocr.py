"""OCR benchmark: pages per second and word accuracy of inlet's OCR on scanned-like pages.

It prints figures; it is not a test. Pages are made here from known text (Lincoln's second
inaugural address, ``samples/corpus/lincoln_second_inaugural.md``, public domain, repeated as
needed): A4 at 300 dpi, 11-point text in Pillow's own TrueType font, then made to look scanned:
turned by a small skew (alternating -1.5 to +1.5 degrees), blurred (radius 0.8) and given
Gaussian noise (sigma 18) with a few black specks. Two ways of reading them, in ONE run:

* **raw**: ``pytesseract.image_to_string(image, lang="eng")`` on the page images, Tesseract's
  default threading (what a user of the library gets without further thought);
* **inlet**: the pages saved as an image-only PDF (as a scanner writes it) and read by
  ``pipelines.extract.extract`` end to end: pypdf finds no text layer, pdfium renders each page
  at ``ocr_dpi``, Tesseract reads it with ``OMP_THREAD_LIMIT=1`` (its confidence kept).

Word accuracy is 1 - WER (``jiwer``) over lower-case words without punctuation, pooled over the
pages; pages per second is wall time over the pages read. The 1-minute load average is printed
at the start and the end: the machine may be shared, so compare figures of one run only.

Run from the project folder:

    .venv/bin/python bench/ocr.py               # 4 pages; about 1 minute on 2 cores
    .venv/bin/python bench/ocr.py --pages 10 --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT = ROOT / "samples" / "corpus" / "lincoln_second_inaugural.md"
A4_300DPI = (2480, 3508)
MARGIN = 200
FONT_PX = 46  # 11 pt at 300 dpi


def known_words() -> list[str]:
    text = re.sub(r"[#*_>`]", " ", TEXT.read_text("utf-8"))
    return text.split()


def layout(words: list[str], font: ImageFont.FreeTypeFont) -> list[list[str]]:
    """Words into pages of lines that fit the text width."""
    width = A4_300DPI[0] - 2 * MARGIN
    lines_per_page = (A4_300DPI[1] - 2 * MARGIN) // int(FONT_PX * 1.5)
    lines: list[str] = []
    line = ""
    for word in words:
        candidate = f"{line} {word}".strip()
        if font.getlength(candidate) > width and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    return [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]


def render(
    lines: list[str], font: ImageFont.FreeTypeFont, skew: float, rng: np.random.Generator
) -> Image.Image:
    page = Image.new("L", A4_300DPI, 255)
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((MARGIN, MARGIN + i * int(FONT_PX * 1.5)), line, font=font, fill=0)
    page = page.rotate(skew, resample=Image.Resampling.BICUBIC, fillcolor=255)
    page = page.filter(ImageFilter.GaussianBlur(0.8))
    pixels = np.asarray(page, dtype=np.float32) + rng.normal(0, 18, (A4_300DPI[1], A4_300DPI[0]))
    specks = rng.random(pixels.shape) < 0.0005
    pixels[specks] = 0
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def normalise(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower().replace("’", "'")))


def accuracy(references: list[str], hypotheses: list[str]) -> float:
    import jiwer

    return 1.0 - jiwer.wer(" ".join(map(normalise, references)), " ".join(map(normalise, hypotheses)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import pytesseract

    from pipelines.config import get_settings
    from pipelines.extract import extract
    from pipelines.sources import inspect

    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    font = ImageFont.load_default(size=FONT_PX)
    rng = np.random.default_rng(7)
    words = known_words()
    pages: list[list[str]] = []
    while len(pages) < args.pages:
        pages += layout(words, font)
    pages = pages[: args.pages]
    images = [render(lines, font, skew=(-1.5 if i % 2 else 1.5) * (0.5 + (i % 3) / 4), rng=rng)
              for i, lines in enumerate(pages)]  # fmt: skip
    references = [" ".join(lines) for lines in pages]
    n_words = sum(len(r.split()) for r in references)
    print(f"{len(pages)} pages, {n_words} words, A4 at 300 dpi, skewed, blurred, noisy")

    started = time.perf_counter()
    raw = [pytesseract.image_to_string(image, lang="eng") for image in images]
    raw_s = time.perf_counter() - started

    with tempfile.TemporaryDirectory() as tmp:
        settings = get_settings(home=Path(tmp) / "home")
        pdf = Path(tmp) / "scan.pdf"
        rgb = [image.convert("RGB") for image in images]
        rgb[0].save(pdf, "PDF", resolution=300.0, save_all=True, append_images=rgb[1:])
        started = time.perf_counter()
        extraction = extract(inspect(pdf, settings), settings)
        inlet_s = time.perf_counter() - started
    by_page = {s.page: s for s in extraction.segments}
    read = [by_page[n].text if n in by_page else "" for n in range(1, len(pages) + 1)]
    confidence = [by_page[n].ocr_confidence for n in sorted(by_page)]

    result = {
        "pages": len(pages),
        "words": n_words,
        "raw": {"pages_per_s": len(pages) / raw_s, "s_per_page": raw_s / len(pages),
                "word_accuracy": accuracy(references, raw)},
        "inlet": {"pages_per_s": len(pages) / inlet_s, "s_per_page": inlet_s / len(pages),
                  "word_accuracy": accuracy(references, read),
                  "mean_confidence": sum(c or 0 for c in confidence) / max(1, len(confidence))},
    }  # fmt: skip
    for name in ("raw", "inlet"):
        row = result[name]
        print(f"{name:>6}: {row['pages_per_s']:.2f} pages/s ({row['s_per_page']:.1f} s a page), "
              f"words right {100 * row['word_accuracy']:.1f} %")  # fmt: skip
    print(f" inlet: mean Tesseract confidence {result['inlet']['mean_confidence']:.1f}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
