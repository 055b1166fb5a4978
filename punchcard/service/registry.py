"""The rulesets the service runs, and their deployments (docs/service.md, "Deployments").

Contract (keep these names and signatures):

- ``Registry(store, plugins, paths)``: the rulesets given to ``punchcard serve`` are the first
  deployment of each ruleset id when the store has none.
- ``registry.ids() -> list[str]``: the live ruleset ids.
- ``registry.active(ruleset_id: str | None = None) -> Compiled``: the live version (None: the only
  ruleset; more than one is a ``ValueError``, an id the service does not run a ``KeyError``).
  Cheap: called on every request; another worker's deployment is seen within a second.
- ``registry.deploy(text, by) -> Deployment``, ``registry.rollback(ruleset_id, by) -> Deployment``,
  ``registry.live()``, ``registry.history(...)``: what ``/v1/rulesets`` does; a deployment that
  is refused raises :class:`Refusal`, having changed nothing.

The store records the deployments (:mod:`punchcard.engine.store_deployments`); a store that
keeps none (the memory store) gets a record beside it that lasts as long as the process. Each
worker process holds a snapshot of the live programs. ``active`` reads the store's newest
deployment id at most once per ``refresh`` seconds (one index entry) and, when it moved, reads
the live rows and compiles a version it has not compiled before, once: programs are cached by
the digest of their text. The snapshot is replaced whole, never changed, so a request that
holds a program finishes with it while the next one gets the new version; decisions carry
``ruleset@version`` from the program that made them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from punchcard.api import compile as compile_ruleset
from punchcard.dsl.check import CheckedRuleset, check_text
from punchcard.dsl.errors import Code, Diagnostic, PunchcardError
from punchcard.dsl.loader import MAIN_FILE, read_ruleset_text
from punchcard.engine import Compiled
from punchcard.engine.store import StoreError
from punchcard.engine.store_deployments import (
    Deployment,
    DeploymentConflict,
    Deployments,
    MemoryDeployments,
    NewDeployment,
)
from punchcard.engine.testing import run_tests
from punchcard.plugins.manager import get_plugin_manager

__all__ = ["Registry", "Refusal", "digest_of", "STARTED_BY"]

log = logging.getLogger("punchcard.service")

STARTED_BY = "punchcard serve"  # who the deployments of the served files are recorded as made by
CACHED_PROGRAMS = 16  # compiled versions kept besides the live ones: a rollback needs no compile
_KEPT: weakref.WeakKeyDictionary[Any, MemoryDeployments] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


class Refusal(Exception):
    """A deployment or rollback refused, nothing changed: ``code`` is its problem type,
    ``errors`` the diagnostics or failed tests (JSON-ready)."""

    def __init__(self, code: str, detail: str, errors: Sequence[Mapping[str, Any]] = ()) -> None:
        super().__init__(detail)
        self.code, self.detail, self.errors = code, detail, [dict(e) for e in errors]


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _record_of(store: Any) -> Deployments:
    """The store's own record of deployments, or one kept beside a store that keeps none."""
    if isinstance(store, Deployments):
        return store
    with _KEPT_LOCK:
        kept = _KEPT.get(store)
        if kept is None:
            kept = _KEPT[store] = MemoryDeployments()
        return kept


class Registry:
    """The live programs of one worker process, and the deployments behind them (see above)."""

    def __init__(self, store: Any, plugins: Any, paths: Sequence[str | Path], *, refresh: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store, self.refresh, self._clock = store, refresh, clock
        self.plugins = plugins if plugins is not None else get_plugin_manager()
        self.record = _record_of(store)
        self._programs: OrderedDict[str, Compiled] = OrderedDict()  # by the digest of their text
        self._files: dict[str, Path] = {}  # ruleset id -> the file it is served from
        self._served: dict[str, str] = {}  # ruleset id -> the digest of that file's text
        self._live: dict[str, Compiled] = {}  # replaced whole on each change, never changed in place
        self._mark, self._checked_at = -1, float("-inf")
        self._lock = threading.Lock()
        for path in paths:
            self._start(Path(path))
        self.sync(force=True)

    def _start(self, path: Path) -> None:
        compiled = compile_ruleset(path, plugins=self.plugins)
        main = path / MAIN_FILE if path.is_dir() else path
        text = compiled.checked.sources.get(str(main)) or main.read_text(encoding="utf-8")
        ruleset, digest = compiled.model.ruleset, digest_of(text)
        self._files[ruleset], self._served[ruleset] = main, digest
        self._remember(digest, compiled)
        live = next((d for d in self.record.deployments_live() if d.ruleset == ruleset), None)
        if live is not None:  # the store's live version wins: a restart never undoes a deployment
            if live.digest != digest:
                log.warning("%s: the store's live version of %s is %s; this file (%s) is not served: deploy it "
                            "with POST /v1/rulesets", main.name, ruleset, live.version, compiled.model.version)
            return
        first = NewDeployment(ruleset, str(compiled.model.version), text, digest, _now(), STARTED_BY, "start")
        with contextlib.suppress(DeploymentConflict):  # another worker starting at the same time recorded it
            self.record.deployments_record(first, None)

    # -- what requests read ---------------------------------------------------------------
    def ids(self) -> list[str]:
        return sorted(self._files)

    def active(self, ruleset_id: str | None = None) -> Compiled:
        self.sync()
        live = self._live  # one snapshot for the whole call
        if ruleset_id is None:
            if len(live) != 1:
                raise ValueError(f"name the ruleset: one of {', '.join(self.ids())}")
            return next(iter(live.values()))
        return live[ruleset_id]

    def sync(self, force: bool = False) -> None:
        """Take up the store's live versions, if they changed since the last look (made at most
        once per ``refresh`` seconds unless ``force``). One thread looks; the others carry on
        with the snapshot they have rather than wait."""
        now = self._clock()
        if not force and now - self._checked_at < self.refresh:
            return
        if not self._lock.acquire(blocking=force):
            return
        try:
            self._checked_at = now
            self._take_up(force)
        except StoreError as exc:
            if force or not self._live:
                raise
            log.warning("could not read the live rulesets, serving the versions in hand: %s", exc)
        finally:
            self._lock.release()

    def _take_up(self, force: bool) -> None:
        mark = self.record.deployments_mark()
        if mark == self._mark and not force:
            return
        live = dict(self._live)
        for deployment in self.record.deployments_live():
            if deployment.ruleset in self._files:
                program = self._program(deployment)
                if program is not None:
                    live[deployment.ruleset] = program
        self._live, self._mark = live, mark

    def _program(self, deployment: Deployment) -> Compiled | None:
        """The compiled program of a deployment, compiled once per digest."""
        found = self._programs.get(deployment.digest)
        if found is not None:
            self._programs.move_to_end(deployment.digest)
            return found
        served = self._files.get(deployment.ruleset)
        try:  # a served file is compiled from its folder: what it includes is not in the text
            source = served if deployment.digest == self._served.get(deployment.ruleset) else None
            compiled = compile_ruleset(source or self._check(deployment.text, deployment.ruleset), plugins=self.plugins)
        except PunchcardError as exc:  # e.g. a model file this worker lacks: keep running what it has
            log.error("%s cannot be compiled here, still serving the version in hand: %s", deployment.label,
                      exc.diagnostics[0].message if exc.diagnostics else exc)
            return None
        self._remember(deployment.digest, compiled)
        return compiled

    def _remember(self, digest: str, compiled: Compiled) -> None:
        self._programs[digest] = compiled
        while len(self._programs) > CACHED_PROGRAMS + len(self._files):
            self._programs.popitem(last=False)

    def _check(self, text: str, ruleset: str | None) -> CheckedRuleset:
        # Checked as if it were the served file: models and error locations read from its folder.
        served = self._files.get(ruleset or "")
        name = str(served) if served is not None else "ruleset.yaml"
        return check_text(text, name, self.plugins.functions())

    # -- deployments ------------------------------------------------------------------------
    def live(self) -> list[Deployment]:
        """The live deployment of each ruleset the service runs, read from the store."""
        return [d for d in self.record.deployments_live() if d.ruleset in self._files]

    def history(self, ruleset_id: str | None = None, limit: int = 20, before: int | None = None) -> list[Deployment]:
        return self.record.deployments_history(ruleset_id, limit, before)

    def deploy(self, text: str, by: str) -> tuple[Deployment, bool]:
        """Check, compile and test ``text``, then record it and make it live: (the live
        deployment, whether this call changed it; deploying the live text again changes nothing)."""
        compiled = self._compiled(text)
        ruleset, version, digest = compiled.model.ruleset, str(compiled.model.version), digest_of(text)
        current = self._current(ruleset)
        if current.digest == digest:
            return current, False
        self._same_version_same_text(ruleset, version, digest)
        failed = [r for r in run_tests(compiled) if not r.passed]
        if failed:
            raise Refusal("ruleset-tests-failed", f"{len(failed)} of the ruleset's tests failed; nothing was "
                          "deployed", [{"test": r.name, "failures": list(r.failures)} for r in failed])
        new = NewDeployment(ruleset, version, text, digest, _now(), by, "deploy", current.version, current.id)
        return self._make_live(new, current, compiled), True

    def rollback(self, ruleset_id: str, by: str) -> Deployment:
        """Make live again the version the live one replaced (rolling back twice goes two back)."""
        current = self._current(ruleset_id)
        target = self.record.deployment(current.parent) if current.parent is not None else None
        if target is None:
            raise Refusal("nothing-to-roll-back", f"{current.label} is the first version deployed: there is no "
                          "earlier one")
        with self._lock:  # the cache is the syncing thread's too
            compiled = self._program(target)
        if compiled is None:
            raise Refusal("ruleset-check-failed", f"{target.label} no longer compiles here; nothing changed")
        new = NewDeployment(ruleset_id, target.version, target.text, target.digest, _now(), by, "rollback",
                            current.version, target.parent)
        return self._make_live(new, current, compiled)

    def _compiled(self, text: str) -> Compiled:
        checked = self._check(text, _ruleset_id(text))
        if not checked.ok:
            raise Refusal("ruleset-check-failed", _listed(checked.diagnostics), _located(checked.diagnostics))
        if isinstance(checked.raw.data, dict) and "include" in checked.raw.data:  # the text alone is what is stored
            where = checked.source.value(("include",)).span
            raise Refusal("ruleset-check-failed", f"{where.file}:{where.line}:{where.column}: a deployment is one "
                          "YAML document: write the included files into it", [Diagnostic(
                              Code.SCHEMA_ERROR, "include: is not deployed", where).to_json()])
        if checked.valid_model.ruleset not in self._files:
            raise Refusal("ruleset-not-served", f"this service runs {', '.join(self.ids())}; a new ruleset id is "
                          "added by starting the service with its file")
        try:
            return compile_ruleset(checked, plugins=self.plugins)
        except PunchcardError as exc:
            raise Refusal("ruleset-check-failed", _listed(exc.diagnostics), _located(exc.diagnostics)) from None

    def _current(self, ruleset_id: str) -> Deployment:
        if ruleset_id not in self._files:
            raise KeyError(ruleset_id)
        current = next((d for d in self.record.deployments_live() if d.ruleset == ruleset_id), None)
        if current is None:  # recorded at start-up: only a store emptied since has none
            raise Refusal("deployment-conflict", f"{ruleset_id} has no live version recorded; restart the service")
        return current

    def _same_version_same_text(self, ruleset: str, version: str, digest: str) -> None:
        """A version names one text: decisions stamped ``ruleset@version`` must say which rules made them."""
        before: int | None = None
        while page := self.record.deployments_history(ruleset, 500, before):
            clash = next((d for d in page if d.version == version and d.digest != digest), None)
            if clash is not None:
                raise Refusal("version-conflict", f"{clash.label} was deployed before with another text: give this "
                              "one a new version")
            before = page[-1].id

    def _make_live(self, new: NewDeployment, current: Deployment, compiled: Compiled) -> Deployment:
        try:
            recorded = self.record.deployments_record(new, current.id)
        except DeploymentConflict:
            raise Refusal("deployment-conflict", f"another deployment of {new.ruleset} was recorded meanwhile; "
                          "read GET /v1/rulesets and try again") from None
        with self._lock:
            self._remember(new.digest, compiled)
        self.sync(force=True)  # this worker serves it from its next request on
        return recorded


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _ruleset_id(text: str) -> str | None:
    """The ``ruleset:`` id a text names, if it reads as YAML at all (the check says the rest)."""
    try:
        data = read_ruleset_text(text, "ruleset.yaml").data
    except PunchcardError:
        return None
    found = data.get("ruleset") if isinstance(data, dict) else None
    return found if isinstance(found, str) else None


def _located(diagnostics: Sequence[Diagnostic]) -> list[dict[str, Any]]:
    return [d.to_json() for d in diagnostics if d.is_error] or [d.to_json() for d in diagnostics]


def _listed(diagnostics: Sequence[Diagnostic]) -> str:
    shown = [f"{d.span.file}:{d.span.line}:{d.span.column}: {d.message}" for d in diagnostics if d.is_error]
    return "the ruleset does not pass punchcard check: " + "; ".join(shown or ["it did not validate"])
