"""The messages benchmark compares the same ruleset with and without its messages: section,
on the same events, and refuses to report when messages would change a decision's points."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load():
    spec = importlib.util.spec_from_file_location("bench_messages", ROOT / "bench/bench_messages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_baseline_is_the_same_ruleset_without_messages():
    bench = _load()
    text = bench.RULESET.read_text()
    assert "\nmessages:\n" in text and "\nmessages:\n" not in bench._without_messages(text)
    assert "\ncompliance:\n" in bench._without_messages(text)


def test_it_times_both_sides_and_collects_the_messages_chosen():
    bench = _load()
    base, new, requests = bench.deciding(1, bench.events(300, 20), sql=False)
    assert base > 0 and new > 0 and requests
    assert all(r.channel in ("sms", "push") for r in requests)
    filled, checked = bench.composing(requests[:20], 1)
    assert filled > 0 and checked > 0
