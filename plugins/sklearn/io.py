"""Model files: skops, never pickle, with a card beside each.

A model file (``NAME.skops``) holds one plain dict: the format tag, the target, the feature
names in the estimator's column order and the fitted estimator. Loading reads the types the
file names and refuses any not in :data:`TRUSTED` before building anything, then checks
the file against its card (``NAME.card.json``, written beside it): a file whose SHA-256 is not
the one its card records was changed after training, and is refused. The card also holds the
data window, the features and the metrics a reader needs (docs/models.md).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from punchcard.engine.policies.features import MEMBER_FEATURES, OFFER_FEATURES

__all__ = ["FORMAT", "TRUSTED", "ModelFileError", "save_model", "load_model", "card_path", "read_card", "digest"]

FORMAT = "punchcard-model/1"
# Every type a punchcard model file may hold: the estimators train.py fits, their parts, and
# the plain values around them. A file naming any other type is refused before anything is
# built from it, even a type skops itself would trust.
TRUSTED = frozenset({
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple", "builtins.int", "builtins.float",
    "builtins.bool", "builtins.NoneType",
    "numpy.ndarray", "numpy.float64", "numpy.int64", "numpy.dtype",
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.ensemble._iforest.IsolationForest",
    "sklearn.tree._classes.ExtraTreeRegressor",
    "sklearn.tree._tree.Tree",
    "sklearn.cluster._kmeans.KMeans",
})
KNOWN_FEATURES = frozenset((*MEMBER_FEATURES, *OFFER_FEATURES))


class ModelFileError(ValueError):
    """A model file that cannot be used: missing, changed, holding unexpected types, or not
    matching the features punchcard defines. The message names the file, never its content."""


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def card_path(path: Path) -> Path:
    return path.with_name(path.name.removesuffix(".skops") + ".card.json")


def save_model(path: Path, bundle: Mapping[str, Any], card: Mapping[str, Any]) -> dict[str, Any]:
    """Write the model with skops and its card beside it; returns the card as written."""
    import skops.io as sio  # heavy: only when a model is written

    path.parent.mkdir(parents=True, exist_ok=True)
    sio.dump({"format": FORMAT, **bundle}, path)
    written = {**card, "file": path.name, "sha256": digest(path), "version": digest(path)[:12]}
    card_path(path).write_text(json.dumps(written, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return written


def read_card(path: Path) -> dict[str, Any]:
    card = card_path(path)
    if not card.is_file():
        raise ModelFileError(f"model {path.name} has no card ({card.name}) beside it: train it again")
    try:
        loaded = json.loads(card.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise ModelFileError(f"the card {card.name} is not valid JSON") from None
    if not isinstance(loaded, dict):
        raise ModelFileError(f"the card {card.name} is not a JSON object")
    return loaded


def load_model(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the model's dict, its card). Refuses a missing, changed or mismatched file."""
    if not path.is_file():
        raise ModelFileError(f"model file {path} not found")
    card = read_card(path)
    if card.get("sha256") != digest(path):
        raise ModelFileError(f"model file {path.name} was changed after training: its SHA-256 is not the one "
                             f"its card records; train it again or restore the file")
    bundle = _load_trusted(path)
    if not isinstance(bundle, dict) or bundle.get("format") != FORMAT:
        raise ModelFileError(f"{path.name} is not a punchcard model file ({FORMAT})")
    features = bundle.get("features")
    if not isinstance(features, list) or not features or not all(isinstance(f, str) for f in features):
        raise ModelFileError(f"model file {path.name} names no features")
    unknown = sorted(set(features) - KNOWN_FEATURES)
    if unknown or features != card.get("features"):
        what = f"features punchcard does not define: {', '.join(unknown[:5])}" if unknown else \
            "features other than its card lists"
        raise ModelFileError(f"model file {path.name} does not match: it reads {what}")
    return bundle, card


def _types_in(path: Path) -> set[str]:
    """Every type the file's skops schema names (module.class), read as JSON: nothing is built."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("__module__"), str) and isinstance(node.get("__class__"), str):
                found.add(f"{node['__module__']}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    try:
        with zipfile.ZipFile(path) as archive:
            walk(json.loads(archive.read("schema.json")))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise ModelFileError(f"model file {path.name} cannot be read (not a skops file)") from None
    return found


def _load_trusted(path: Path) -> Any:
    import skops.io as sio  # heavy: only when a model is read

    unexpected = sorted(_types_in(path) - TRUSTED)
    if unexpected:
        raise ModelFileError(f"model file {path.name} holds types a punchcard model never holds "
                             f"({', '.join(unexpected[:3])}); refusing to load it")
    try:
        untrusted = sio.get_untrusted_types(file=path)
        return sio.load(path, trusted=[name for name in untrusted if name in TRUSTED])
    except Exception as exc:  # a damaged archive: skops raises whatever zipfile, json or numpy found
        raise ModelFileError(f"model file {path.name} cannot be loaded ({type(exc).__name__})") from None
