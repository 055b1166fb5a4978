"""What the store prints and logs: never a password (in ``user:pw@`` or in
``?password=``), never SQL parameters, stored documents or event bodies."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st
from ledger_scenarios import COFFEE, mixed_events
from sqlalchemy import text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from punchcard.cli import app
from punchcard.engine import Engine
from punchcard.engine.store import StoreError
from punchcard.plugins.sql.errors import failures
from punchcard.plugins.sql.store import SqlStore
from punchcard.plugins.sql.urls import redact

RUNNER = CliRunner()
SECRETS = ("SeCrEt-in-userinfo", "SeCrEt-in-query")


def _with_passwords(url: str, scheme: str = "postgres") -> str:
    """``url`` (the test server trusts local connections) with a password in both places."""
    parsed = make_url(url)
    shown = parsed.set(drivername="postgresql", password=SECRETS[0])
    shown = shown.update_query_dict({"password": SECRETS[1]})
    return scheme + "://" + shown.render_as_string(hide_password=False).split("://", 1)[1]


@given(st.text(alphabet=st.characters(blacklist_characters="@/?#&", blacklist_categories=("Cs",)), min_size=1),
       st.sampled_from(["password", "sslpassword", "PASSWORD"]))
def test_redact_hides_both_kinds_of_password(password, key):
    url = f"postgresql://loyalty:{password}@db:5432/points?{key}={password}&application_name=x"
    shown = redact(url)
    assert shown == f"postgresql://loyalty:***@db:5432/points?{key}=***&application_name=x"


def test_redact_keeps_urls_without_a_password():
    for url in ("sqlite:///points.db", "postgresql://db/points?host=/run/pg", "memory://"):
        assert redact(url) == url


def test_postgres_scheme_opens_the_ledger(store_urls, coffee):
    url = _with_passwords(store_urls.new("postgresql"))
    assert url.startswith("postgres://")
    store = SqlStore(url)
    decision = Engine(coffee, store=store).process({"type": "purchase", "id": "o-1", "member": "masha",
                                                    "time": "2026-03-02T08:15:00", "amount": "150",
                                                    "category": "coffee"})
    assert decision.outcome == "applied"
    assert all(secret not in repr(store) and secret not in store.shown_url for secret in SECRETS)
    store.close()


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_no_password_in_any_message_or_log_of_failing_commands(store_urls, tmp_path, caplog):
    unmigrated = _with_passwords(store_urls.empty("postgresql"))
    unreachable = _with_passwords("postgresql+psycopg://loyalty@127.0.0.1:1/points")
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "purchase", "id": "o-1", "member": "m", "time": "2026-03-02T08:15:00", '
                      '"amount": "1", "category": "coffee"}\n')
    outputs = []
    with caplog.at_level(logging.DEBUG):
        for url in (unmigrated, unreachable):
            for args in (["process", str(COFFEE), "--store", url, "--events", str(events)],
                         ["member", "m", "--store", url], ["audit", "--store", url],
                         ["db", "current", "--store", url], ["db", "upgrade", "--store", url, "--to", "nowhere"]):
                result = RUNNER.invoke(app, args)
                assert result.exit_code in (1, 2) or args[:2] == ["db", "current"], (args, result.output)
                assert "Traceback" not in result.output
                outputs.append(result.output)
            with pytest.raises(StoreError) as failed:
                SqlStore(url)
            outputs.append(str(failed.value))
    plugins = RUNNER.invoke(app, ["plugins"])
    _assert_clean("\n".join(outputs) + caplog.text + plugins.output)
    assert any("***" in output for output in outputs)


def test_sql_parameters_and_bodies_never_reach_the_logs(sql_url, everything, caplog):
    """SQLAlchemy logs every statement at INFO; its parameters (event bodies, stored
    decisions, digests) stay hidden."""
    store = SqlStore(sql_url())
    events = mixed_events(seed=4, count=30)
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"):
        Engine(everything, store=store).process_many(events)
        Engine(everything, store=store).process(events[0])
    store.close()
    assert "INSERT INTO" in caplog.text  # the statements were logged ...
    assert "service recovery" not in caplog.text and '"amount"' not in caplog.text  # ... their values not
    assert all(e["id"] not in caplog.text for e in events)


def test_a_database_error_quoting_a_value_is_masked(store_urls):
    store = SqlStore(store_urls.new("postgresql"))
    with pytest.raises(StoreError) as failed, failures("reading", store.shown_url), store.engine.connect() as conn:
        conn.execute(text("SELECT CAST(:v AS numeric)"), {"v": "private-value-42"})
    store.close()
    assert "private-value-42" not in str(failed.value) and "invalid input syntax" in str(failed.value)
    assert "SQLSTATE 22P02" in str(failed.value) and failed.value.__cause__ is None


def test_a_failing_store_message_has_no_sql_or_parameters(store_urls, everything, caplog):
    url = store_urls.new("sqlite")
    store = SqlStore(url)
    events = mixed_events(seed=6, count=20)
    with store.engine.connect() as conn:  # a table the next write needs is gone
        conn.execute(text("DROP TABLE ledger_entries"))
        conn.commit()
    with caplog.at_level(logging.DEBUG), pytest.raises(StoreError) as failed:
        Engine(everything, store=store).process_many(events)
    store.close()
    message = str(failed.value) + caplog.text
    assert "no such table: ledger_entries" in str(failed.value)
    assert "[parameters" not in message and "INSERT" not in str(failed.value) and '"amount"' not in message
    assert all(e["id"] not in message for e in events)


def test_a_value_a_column_could_not_take_is_not_quoted(store_urls):
    from sqlalchemy import insert

    from punchcard.plugins.sql.models import Budget

    store = SqlStore(store_urls.new("sqlite"))
    with pytest.raises(StoreError) as failed, failures("writing", store.shown_url), store.engine.connect() as conn:
        conn.execute(insert(Budget.__table__), {"rule": "private-rule", "used": 123.456})
    store.close()
    assert "TypeError" in str(failed.value)
    assert "123.456" not in str(failed.value) and "private-rule" not in str(failed.value)


@pytest.mark.parametrize("url", ["redis://u:SECRETPW@h/db", "redis://u@h/db?password=SECRETPW"])
def test_a_url_no_plugin_understands_is_shown_without_its_password(url):
    """The plugin manager names the URL it could not open, with the password hidden either way."""
    result = RUNNER.invoke(app, ["member", "m", "--store", url])
    assert result.exit_code != 0
    assert "no storage plugin understands URL" in result.output
    assert "SECRETPW" not in result.output
