"""Stage B pieces: reading the extractor's JSON (repair and rejection paths) and dedup into a bank."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hintrag.hints.hintbank import Bank, Candidate, deduplicate, render
from hintrag.hints.writer import HINTS_SCHEMA, parse_hints, trace_text

GOOD = json.dumps({"hints": [{"text": "Open {receptacle} before taking from it.", "type": "precondition"},
                             {"text": "Check each {receptacle} only once.", "type": "failure-pattern"}]})


def test_valid_json_is_read_as_is() -> None:
    parsed = parse_hints(GOOD, 4, 120)
    assert parsed.hints == [("Open {receptacle} before taking from it.", "precondition"),
                            ("Check each {receptacle} only once.", "failure-pattern")]
    assert not parsed.rejected and not parsed.repaired and parsed.error is None


@pytest.mark.parametrize("raw,repair", [
    (f"Sure! Here are the hints:\n```json\n{GOOD}\n```", "code_fence"),
    (f"Here you go: {GOOD} Hope it helps.", "leading_prose"),
    ('{"hints": [{"text": "Open {receptacle} first.", "type": "precondition",},]', "json_repair"),
    ("{'hints': [{'text': 'Open {receptacle} first.', 'type': 'precondition'}]}", "json_repair"),
])
def test_broken_json_is_repaired(raw: str, repair: str) -> None:
    parsed = parse_hints(raw, 4, 120)
    assert parsed.hints and parsed.hints[0][0].startswith("Open {receptacle}")
    assert parsed.repaired[repair] >= 1


def test_other_shapes_and_spellings_are_repaired() -> None:
    parsed = parse_hints('[{"hint": "You should heat {object} before placing it.", "type": "Best Practice"},'
                         ' "- Go to {receptacle} first", {"text": "Use {lamp} while holding {object}", "type": "afordance"},'
                         ' {"text": "Close the fridge.", "type": "zzz"}]', 4, 120)
    assert parsed.hints == [("Heat {object} before placing it.", "best-practice"),
                            ("Go to {receptacle} first", "best-practice"),
                            ("Use {lamp} while holding {object}", "affordance"),
                            ("Close the fridge.", "best-practice")]
    assert parsed.repaired == {"made_imperative": 1, "type_defaulted": 2, "type_mapped": 1}


def test_copies_of_the_prompts_format_example_are_rejected() -> None:
    example = ["Preheat {appliance} before putting {dish} in it."]
    raw = json.dumps({"hints": [{"text": "Preheat {appliance} before putting {dish} in it", "type": "precondition"},
                                {"text": "Open {receptacle} first.", "type": "precondition"}]})
    parsed = parse_hints(raw, 4, 120, example)
    assert parsed.hints == [("Open {receptacle} first.", "precondition")] and parsed.rejected == {"copied_example": 1}


def test_a_cut_off_copy_of_the_format_example_is_rejected_too() -> None:
    """The 135M writer's kept hints on ALFWorld were the example cut by its token budget."""
    example = ["Taste {dish} again after adding {ingredient}."]
    texts = ["Taste {dish} again after adding {", "Taste", "Taste {dish} again after adding",
             "Take {object} when you see it.", "Taste the soup before serving it."]
    raw = json.dumps({"hints": [{"text": t, "type": "best-practice"} for t in texts]})
    parsed = parse_hints(raw, 4, 120, example)
    assert [h for h, _ in parsed.hints] == texts[3:] and parsed.rejected == {"copied_example": 3}


def test_rejections_are_counted_with_reasons() -> None:
    items = [{"text": "", "type": "ordering"}, {"text": "x" * 121, "type": "ordering"},
             {"text": "The agent went to the wrong shelf.", "type": "ordering"},
             {"text": "I should have opened it.", "type": "ordering"},
             {"text": "You are in the middle of a room.", "type": "ordering"}] + \
            [{"text": f"Check {{receptacle}} {i}.", "type": "ordering"} for i in range(5)]
    parsed = parse_hints(json.dumps({"hints": items}), 4, 120)
    assert len(parsed.hints) == 4
    assert parsed.rejected == {"empty": 1, "too_long": 1, "not_imperative": 3, "too_many": 1}


def test_the_authors_rule_cuts_long_hints_and_keeps_up_to_four() -> None:
    """hints.cut_chars=240, hints.keep_hints=4 (the paper presets): the prompt still asks for 120
    characters, a longer hint is cut to 240 instead of rejected, and up to 4 are kept of an answer."""
    from conftest import make_cfg

    from hintrag.stages.extract import cut_chars, kept_per_failure

    long = "Open {receptacle} " + "and look " * 40
    items = [{"text": long, "type": "ordering"}] + [{"text": f"Check {{receptacle}} {i}.", "type": "ordering"}
                                                    for i in range(4)]
    parsed = parse_hints(json.dumps({"hints": items}), 4, 120, cut_chars=240)
    assert len(parsed.hints) == 4 and parsed.hints[0][0] == long[:240].rstrip() and parsed.repaired == {"cut": 1}
    assert parsed.rejected == {"too_many": 1}
    paper, plain = make_cfg("experiment=paper_webshop").hints, make_cfg("env=webshop").hints
    assert (kept_per_failure(paper), cut_chars(paper), paper.max_hints, paper.max_chars) == (4, 240, 2, 120)
    assert (kept_per_failure(plain), cut_chars(plain)) == (2, None)


@pytest.mark.parametrize("raw", ["", "no json here at all", "{", "[]", '{"hints": []}', "null"])
def test_unusable_output_is_an_error_or_empty_never_an_exception(raw: str) -> None:
    parsed = parse_hints(raw, 4, 120)
    assert not parsed.hints and (parsed.error == "unparseable" or parsed.rejected)


@settings(max_examples=300, deadline=None)
@given(st.text() | st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                                lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(
                                    ["hints", "text", "type", "hint", "x"]), c, max_size=4)).map(json.dumps))
def test_parse_hints_never_raises(raw: str) -> None:
    parsed = parse_hints(raw, 4, 120)
    assert len(parsed.hints) <= 4 and all(len(t) <= 120 and t for t, _ in parsed.hints)


def test_schema_names_the_six_types() -> None:
    assert HINTS_SCHEMA["properties"]["hints"]["items"]["properties"]["type"]["enum"] == [
        "precondition", "affordance", "ordering", "failure-pattern", "best-practice", "goal-clarification"]


def test_trace_text_has_no_example_only_the_episode() -> None:
    text = trace_text("You are in a room.\n\nYour task is to: x.", [
        {"action": "go to desk 1", "output": "go to desk 1", "observation": "You arrive."},
        {"action": "", "output": "???", "observation": "Nothing happens."}])
    assert text.splitlines() == ["You are in a room.", "", "Your task is to: x.", "> go to desk 1", "You arrive.",
                                 "> ???", "Nothing happens."]


# -- dedup ----------------------------------------------------------------------------------------

def cand(text: str, category: str = "put", episode: str = "e1") -> Candidate:
    return Candidate(text, "ordering", category, episode)


def test_dedup_threshold_behaviour() -> None:
    base = "Open the {receptacle} before you take anything from it."
    near = "open the {receptacle}  before you take anything from it!"  # case, spacing, punctuation
    far = "Open the {receptacle} first."
    from rapidfuzz import fuzz

    sim_near = fuzz.ratio(base.lower(), " ".join(near.split())) / 100
    sim_far = fuzz.ratio(base.lower(), far.lower()) / 100
    assert sim_near > 0.85 > sim_far
    kept = deduplicate([cand(base, episode="e1"), cand(near, episode="e2"), cand(far, episode="e3")], 0.85, "x")
    assert [h.text for h in kept] == [base, far]
    assert kept[0].absorbed == 1 and kept[0].sources == ["e1", "e2"] and kept[1].sources == ["e3"]
    # A threshold just above the pair's similarity keeps both; just below merges them.
    assert len(deduplicate([cand(base), cand(far)], sim_far + 0.001, "x")) == 2
    assert len(deduplicate([cand(base), cand(far)], sim_far - 0.001, "x")) == 1


def test_dedup_is_per_category_and_ids_are_stable() -> None:
    text = "Heat {object} with {microwave} before placing it."
    cands = [cand(text, "heat", "e1"), cand(text, "clean", "e2"), cand(text, "heat", "e3")]
    kept = deduplicate(cands, 0.85, "local")
    assert [(h.id, h.category, h.absorbed, h.sources) for h in kept] == [
        ("clean-0000", "clean", 0, ["e2"]), ("heat-0000", "heat", 1, ["e1", "e3"])]
    assert kept == deduplicate(cands, 0.85, "local")
    assert all(h.extractor == "local" for h in kept)


def test_bank_roundtrip_and_render(tmp_path: Path) -> None:
    bank = Bank(deduplicate([cand("Open {receptacle} first.", "put"), cand("Look first.", "heat")], 0.85, "local"))
    bank.save(tmp_path / "bank.json")
    again = Bank.load(tmp_path / "bank.json")
    assert again == bank and again.summary() == {"heat": {"ordering": 1}, "put": {"ordering": 1}}
    text = render(again)
    assert "put: 1 hints (ordering 1)" in text and "[put-0000] (ordering) Open {receptacle} first." in text
    assert "from 1 episode(s), absorbed 0, by local: e1" in text
