"""Pure edits of a model document for the draft editor: each takes a document and returns a new
one (the input is never changed). Saving goes through services.model_draft_update, which
validates the whole result; these only check what the validator would report on the wrong item
(a key used twice is reported where it is used *second*, which may not be the edited row) or
would not explain in the editor's words (the catch-all segment must stay last).
"""

import copy

from engine.document import DocumentError

SECTIONS = ("criteria", "decay", "segments")
NOUNS = {"criteria": "criterion", "decay": "decay rule", "segments": "segment"}
SETTINGS_KEYS = ("name", "description", "lookback_days", "half_life_days", "engagement_floor", "grades")


class MissingItem(LookupError):
    """The row the editor names is not in the document (removed or renamed meanwhile)."""


def _items(document: dict, section: str) -> list:
    if section not in SECTIONS:
        raise ValueError(f"unknown section {section!r}")
    items = document.get(section)
    return items if isinstance(items, list) else []


def item_index(document: dict, *, section: str, key: str) -> int:
    for i, item in enumerate(_items(document, section)):
        if isinstance(item, dict) and item.get("key") == key:
            return i
    raise MissingItem(f"there is no {NOUNS[section]} {key!r} in this draft (any more)")


def _check_key(document: dict, *, section: str, item: dict, index: int, exclude: int | None) -> None:
    """Criteria and decay rules share one key namespace; segments have their own. `index` is where
    the item goes (for the error's path), `exclude` the row it replaces."""
    key = item.get("key")
    sections = ("segments",) if section == "segments" else ("criteria", "decay")
    for other in sections:
        for i, existing in enumerate(_items(document, other)):
            if (other, i) == (section, exclude) or not isinstance(existing, dict):
                continue
            if key and existing.get("key") == key:
                label = existing.get("label") or key
                raise DocumentError([f"{section}[{index}].key: {key!r} is already the key of {NOUNS[other]} {label!r}"])


def _is_catch_all(item) -> bool:
    return isinstance(item, dict) and item.get("when") is None


def add_position(document: dict, *, section: str, item: dict) -> int:
    """Where item_add puts `item`: at the end, except that a segment with a condition goes just
    before the catch-all segment (the last, "every other lead"), where it can still match."""
    items = _items(document, section)
    if section == "segments" and items and _is_catch_all(items[-1]) and not _is_catch_all(item):
        return len(items) - 1
    return len(items)


def item_add(document: dict, *, section: str, item: dict) -> dict:
    """The document with `item` added to the section (see add_position)."""
    new = copy.deepcopy(document)
    index = add_position(new, section=section, item=item)
    _check_key(new, section=section, item=item, index=index, exclude=None)
    new[section] = _items(new, section)
    new[section].insert(index, copy.deepcopy(item))
    return new


def item_replace(document: dict, *, section: str, key: str, item: dict) -> dict:
    """The document with the row `key` of the section replaced by `item` (which may rename it)."""
    new = copy.deepcopy(document)
    index = item_index(new, section=section, key=key)
    _check_key(new, section=section, item=item, index=index, exclude=index)
    new[section][index] = copy.deepcopy(item)
    return new


def item_remove(document: dict, *, section: str, key: str) -> dict:
    """The document without the row `key`; the catch-all segment cannot go (edit it instead)."""
    new = copy.deepcopy(document)
    index = item_index(new, section=section, key=key)
    items = new[section]
    if section == "segments" and index == len(items) - 1 and _is_catch_all(items[index]):
        raise DocumentError(
            [f"segments[{index}]: the last segment catches every other lead and cannot be removed; edit it instead"]
        )
    del items[index]
    return new


def item_move(document: dict, *, section: str, key: str, offset: int) -> dict:
    """The document with the row `key` moved `offset` places (-1 up, +1 down), stopping at the ends.
    Order matters: decay rules apply in order, the first matching segment wins, and breakdown
    lines follow the criteria's order."""
    new = copy.deepcopy(document)
    index = item_index(new, section=section, key=key)
    items = new[section]
    target = max(0, min(len(items) - 1, index + offset))
    moves_catch_all = section == "segments" and _is_catch_all(items[-1]) and len(items) - 1 in (index, target)
    if moves_catch_all and target != index:
        raise DocumentError(
            [f"segments[{index}]: the segment for every other lead stays last (a segment below it would never match)"]
        )
    items.insert(target, items.pop(index))
    return new


def settings_change(document: dict, *, settings: dict) -> dict:
    """The document with the model-wide settings replaced (name, description, lookback, half-life,
    floor, grades); the slug never changes. `engagement_floor` None means no floor."""
    unknown = set(settings) - set(SETTINGS_KEYS)
    if unknown:
        raise ValueError(f"not model settings: {', '.join(sorted(unknown))}")
    new = copy.deepcopy(document)
    for name, value in settings.items():
        new[name] = copy.deepcopy(value)
    return new
