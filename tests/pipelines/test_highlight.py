import re
from pathlib import Path

from pipelines.highlight import snippet

REPO = Path(__file__).resolve().parents[2]


def test_marks_query_words_and_their_inflections() -> None:
    text = "Ask not what your country can do for you. Countries ask much of their citizens."
    out = snippet(text, "what can my country do")
    assert "**country**" in out and "**Countries**" in out
    assert "**your**" not in out and "**can**" not in out  # function words are not marked


def test_window_centres_on_the_densest_matches() -> None:
    text = "filler " * 200 + "the crazy ones who think they can change the world " + "filler " * 200
    out = snippet(text, "crazy ones change the world", width=120)
    assert "**crazy**" in out and "**world**" in out
    assert out.startswith("… ") and out.endswith(" …")


def test_only_the_query_s_content_words_are_marked() -> None:
    """'ask not what your country can do for you' on Lincoln's second inaugural marks "ask" and
    "country", never the "can", "do" and "for" that fill any English text."""
    text = (REPO / "samples" / "corpus" / "lincoln_second_inaugural.md").read_text()
    marked = set(re.findall(r"\*\*(\w+)\*\*", snippet(text, "ask not what your country can do for you")))
    assert marked and {w.lower() for w in marked} <= {"ask", "asked", "asks", "country", "countries"}
    kennedy = "ask not what your country can do for you, ask what you can do for your country."
    assert snippet(kennedy, "ask not what your country can do for you") == (
        "**ask** not what your **country** can do for you, **ask** what you can do for your **country**."
    )
    # a query of function words only still marks them: there is nothing else to show
    assert snippet("To be, or not to be", "to be or not") == "**To** **be**, **or** **not** **to** **be**"
