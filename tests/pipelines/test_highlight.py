from pipelines.highlight import snippet


def test_marks_query_words_and_their_inflections() -> None:
    text = "Ask not what your country can do for you. Countries ask much of their citizens."
    out = snippet(text, "what can my country do")
    assert "**country**" in out and "**Countries**" in out and "**can**" in out
    assert "**your**" not in out  # stop words are not marked


def test_window_centres_on_the_densest_matches() -> None:
    text = "filler " * 200 + "the crazy ones who think they can change the world " + "filler " * 200
    out = snippet(text, "crazy ones change the world", width=120)
    assert "**crazy**" in out and "**world**" in out
    assert out.startswith("… ") and out.endswith(" …")
