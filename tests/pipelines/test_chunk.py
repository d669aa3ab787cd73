from pipelines.chunk import SPECIAL_TOKENS, chunk_segments, token_budget
from pipelines.records import Segment


def _chunks(embedder, segments, max_tokens=64, overlap=8):  # noqa: ANN001, ANN202
    return chunk_segments(
        segments,
        tokenizer=embedder.tokenizer,
        max_tokens=max_tokens,
        overlap=overlap,
        collection="c",
        source_id="s" * 64,
        chunking_key="k",
    )


def _count(embedder, text: str) -> int:  # noqa: ANN001
    return len(embedder.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_no_chunk_exceeds_what_the_model_reads(embedder) -> None:  # noqa: ANN001
    # Long words split into many word-pieces: the classic source of silent truncation.
    text = " ".join(["electroencephalographically", "pneumonoultramicroscopic", "ok"] * 400)
    budget = token_budget(10_000, embedder.max_seq_length)
    assert budget == embedder.max_seq_length - SPECIAL_TOKENS
    chunks = _chunks(embedder, [Segment(text=text, page=1)], max_tokens=budget, overlap=32)
    assert len(chunks) > 5
    for chunk in chunks:
        n = _count(embedder, chunk.text)
        assert n == chunk.n_tokens <= budget
        # The model would keep every token: encoding with special tokens fits max_seq_length.
        assert len(embedder.tokenizer(chunk.text)["input_ids"]) <= embedder.max_seq_length


def test_text_without_spaces_is_cut_at_the_full_stride(embedder) -> None:  # noqa: ANN001
    # Markup, minified code or base64 has no word start for thousands of tokens.
    text = "<div>" * 2000 + "deep text" + "</div>" * 2000
    n = _count(embedder, text)
    chunks = _chunks(embedder, [Segment(text=text)], max_tokens=64, overlap=16)
    assert len(chunks) <= n // 40  # about one chunk per stride of 48 tokens, not one per token
    assert all(c.n_tokens <= 64 for c in chunks)
    assert any("deep" in c.text for c in chunks) and any("text" in c.text for c in chunks)
    assert chunks[-1].text.endswith("</div>")


def test_windows_overlap_and_cover_everything(embedder) -> None:  # noqa: ANN001
    words = [f"w{i}" for i in range(300)]
    chunks = _chunks(embedder, [Segment(text=" ".join(words))], max_tokens=64, overlap=16)
    seen = set()
    for chunk in chunks:
        seen.update(chunk.text.split())
    assert seen == set(words)
    first, second = chunks[0].text.split(), chunks[1].text.split()
    assert set(first) & set(second), "consecutive chunks share their overlap"


def test_chunks_keep_page_and_time_spans(embedder) -> None:  # noqa: ANN001
    pages = [Segment(text=f"page {n} " + "text " * 40, page=n) for n in (1, 2, 3)]
    chunks = _chunks(embedder, pages, max_tokens=64, overlap=8)
    assert chunks[0].page_start == 1
    assert chunks[-1].page_end == 3
    assert any(c.page_start != c.page_end for c in chunks), "a window runs across pages"
    speech = [
        Segment(text="hello there " * 5, start=0.0, end=4.0),
        Segment(text="general kenobi " * 5, start=4.0, end=9.5),
    ]
    timed = _chunks(embedder, speech, max_tokens=200, overlap=8)
    assert (timed[0].time_start, timed[0].time_end) == (0.0, 9.5)


def test_ids_are_deterministic_and_depend_on_collection(embedder) -> None:  # noqa: ANN001
    segments = [Segment(text="alpha beta gamma " * 50)]
    a = [c.chunk_id for c in _chunks(embedder, segments)]
    b = [c.chunk_id for c in _chunks(embedder, segments)]
    assert a == b and len(set(a)) == len(a)
    other = chunk_segments(
        segments,
        tokenizer=embedder.tokenizer,
        max_tokens=64,
        overlap=8,
        collection="other",
        source_id="s" * 64,
        chunking_key="k",
    )
    assert not set(a) & {c.chunk_id for c in other}


def test_a_word_longer_than_the_overlap_does_not_multiply_chunks(embedder) -> None:  # noqa: ANN001
    """A Markdown table's rule (``|------|``) is one "word" of a hundred tokens. Windows before
    it used to creep forward a word at a time, each repeating the last: a 2,000-token page
    became 500 chunks. Each chunk must bring new text, and the count stay near
    tokens / (window - overlap)."""
    rule = "|" + "-" * 300 + "|" + "-" * 200 + "|"
    prose = " ".join(f"sentence{i} about tables and rules." for i in range(60))
    page = "\n".join([prose, "| Project | Description |", rule, "| click | a package |", prose, rule, prose])
    segments = [Segment(text=line) for line in page.split("\n")]
    total = sum(_count(embedder, s.text) for s in segments)
    chunks = _chunks(embedder, segments, max_tokens=128, overlap=16)
    assert len(chunks) <= total / (128 - 16) + 4, [c.n_tokens for c in chunks]
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert not before.text.endswith(after.text) and after.text not in before.text
    words = {w for s in segments for w in s.text.split()}
    assert words <= {w for c in chunks for w in c.text.split()} | {rule}


def test_a_chunk_never_spans_two_languages_of_speech(embedder) -> None:  # noqa: ANN001
    english = [Segment(text=f"english sentence {i} about the tides " * 3, start=i, end=i + 1.0, language="en")
               for i in range(6)]  # fmt: skip
    german = [Segment(text=f"deutscher Satz {i} über die Gezeiten " * 3, start=10 + i, end=11 + i, language="de")
              for i in range(6)]  # fmt: skip
    chunks = _chunks(embedder, english + german, max_tokens=64, overlap=16)
    assert [c.language for c in chunks] == sorted((c.language for c in chunks), reverse=True)
    assert {c.language for c in chunks} == {"en", "de"}
    for chunk in chunks:
        assert ("deutscher" in chunk.text) == (chunk.language == "de"), chunk
        assert ("english" in chunk.text) == (chunk.language == "en"), chunk
    first_german = next(c for c in chunks if c.language == "de")
    assert first_german.time_start == 10 and first_german.text.startswith("deutscher Satz 0")
    text = " ".join(c.text for c in chunks)
    assert all(f"sentence {i}" in text and f"Satz {i}" in text for i in range(6))
    without = _chunks(embedder, [Segment(text=s.text, start=s.start, end=s.end) for s in english + german],
                      max_tokens=64, overlap=16)  # fmt: skip
    assert any(
        "english" in c.text and "deutscher" in c.text for c in without
    )  # as before: no language, no cut
    assert all(c.language is None for c in without)
