"""A row as a statement of the sheet: what changes on the incident when the source's view of
it (the fold of its statements, `common.fold_statements`) changes, and what is proposed to
editors instead, because an editor changed that value since the source last said it."""

import contextlib
from dataclasses import dataclass, field
from typing import NamedTuple

from ... import documents
from ...documents import fold, reference_key
from ...periods import more_precise
from ...provenance import Origin, expand
from ..common import PERIOD_TARGETS, _statement_parts, fold_statements
from .columns import SheetRow, apply_row


class Statement(NamedTuple):
    as_of: object  # a date, or None (undated)
    file_hash: str
    document: dict  # the row's values by target (`row_view`)
    clears: set  # the targets its blank cells clear (--blank-clears), else empty


@dataclass
class StatementPlan:
    base: dict  # the incident's document before
    document: dict  # after: what the source changed, where the incident still said what it said
    disputed: dict = field(default_factory=dict)  # target -> the source's new value (None: cleared)
    by_date: int = 0  # values of this statement a newer statement gives otherwise
    laid: set = field(default_factory=set)  # the targets laid on the incident

    def proposal(self, incident_id, published, row, as_of=None):
        """The change editors decide: `published` with the source's disputed values laid."""
        export = f"The AIAAIC export of {as_of:%Y-%m-%d}" if as_of else "An undated AIAAIC export"
        return {
            "incident_id": incident_id,
            "document": _lay(published, row, self.disputed),
            "fields": sorted(self.disputed),
            "note": (
                f"{export} (row {row.line}) changes {', '.join(_label(target) for target in sorted(self.disputed))}, which an "
                "editor (or another source) changed since the export before said it: the incident keeps "
                "its value until an editor decides."
            ),
        }


def _label(target):
    kind, _, name = target.partition(":")
    path = f"{kind}.{name}" if name else kind
    return documents.path_label(path) if kind in documents.SCALAR_PATHS or name else target


def _canon(document):
    """A document as the comparisons here see it: names folded, references by address."""
    return {
        **document,
        "terms": {slug: [fold(name) for name in names] for slug, names in document["terms"].items() if names},
        "entities": {role: [fold(name) for name in names] for role, names in document["entities"].items()},
        "references": {
            category: [reference_key(ref) for ref in refs]
            for category, refs in document["references"].items()
        },
    }


def _agrees(document, target, value):
    """Does the incident still say `value` for `target` (as the source said it)?"""
    if target in ("occurred", "released"):
        # The same period, or a more precise one within it (kept over the source's).
        return more_precise(document.get(target, ""), value) == document.get(target, "")
    if target == "more_urls":
        known = {ref["url"] for refs in document["references"].values() for ref in refs}
        return all(url in known for url in value)
    laid = apply_row(document, SheetRow(line=0, external_id="", values={target: value}))
    with contextlib.suppress(documents.DocumentError):
        laid = documents.normalize(laid)  # as published: a placeholder name is no term ("Multiple")
    return _canon(laid) == _canon(document)


def _lay(document, row, values, old=None):
    """`document` with the targets of `values` set to them (None: cleared), as the row's
    reading of each column lays it. A changed list of more links drops the links the source
    gave before and no longer gives."""
    if old is not None and "more_urls" in values and old.get("more_urls"):
        gone = set(old["more_urls"]) - set(values.get("more_urls") or ())
        if gone:
            references = dict(document["references"])
            references["news"] = [ref for ref in references["news"] if ref["url"] not in gone]
            document = {**document, "references": references}
    synthetic = SheetRow(
        line=row.line,
        external_id=row.external_id,
        values={target: value for target, value in values.items() if value is not None},
        blank={target for target, value in values.items() if value is None},
    )
    laid = apply_row(document, synthetic, blank_clears=True)
    for target, value in values.items():
        if value is not None and target in ("occurred", "released"):
            laid[target] = value  # the fold chose the period already (the more precise one)
    return laid


def _path(target):
    kind, _, name = target.partition(":")
    if kind in ("terms", "entities", "references") and name:
        return f"{kind}.{name}"
    if target in documents.SCALAR_PATHS:
        return target
    return None


def _given_elsewhere(base, target, elsewhere):
    """Does another source (`elsewhere`: its documents) give the value the incident has?"""
    path = _path(target)
    if path is None or not elsewhere:
        return False
    current = documents.get_path(_canon(base), path)
    return bool(current) and any(
        documents.get_path(_canon(other), path) == current for other in elsewhere if "terms" in other
    )


def statement_apply(base, row, statement, statements, *, report=None, elsewhere=()):
    """What importing `statement` (of `row`) does to an incident whose document is `base`,
    given the source's earlier `statements` of it.

    The source's view before (the fold of `statements`) and after (with this one): equal,
    the incident is left as it is. Else each target whose value the view changes is laid
    where the incident still says what the view said before; where an editor (or another
    source) changed it since, the change is disputed: proposed, not made. An incident the
    source never spoke of before takes the row over it (the source's first word). A value
    the source did not give before and another source gives (`elsewhere`: what the other
    sources said, as documents) is disputed too: across sources a change is a proposal."""
    others = [
        record
        for record in statements
        if not (record.as_of == statement.as_of and record.file_hash == statement.file_hash)
    ]
    new = fold_statements([*others, statement])
    by_date = sum(
        1
        for target, value in statement.document.items()
        if target not in ("external_id", "permalink", "number") and new.get(target) != value
    )
    if by_date and report is not None:
        report.add(
            "older-value",
            f"{by_date} value(s) of this row are given otherwise by a newer export of the source: "
            "the newer kept.",
            row=row.line,
        )
    if not others:
        if statements:  # the same file again, its only statement: nothing new
            old = fold_statements(statements)
            if old == new:
                return StatementPlan(base=base, document=base, by_date=by_date)
        document = apply_row(base, row, blank_clears=bool(statement.clears), report=report)
        return StatementPlan(base=base, document=document, by_date=by_date, laid=set(statement.document))
    old = fold_statements(statements)
    if old == new:
        return StatementPlan(base=base, document=base, by_date=by_date)
    laid, disputed = {}, {}
    for target in sorted(set(old) | set(new)):
        if target in ("external_id", "permalink", "number") or old.get(target) == new.get(target):
            continue
        if target not in old and _given_elsewhere(base, target, elsewhere):
            disputed[target] = new.get(target)
        elif target not in old or _agrees(base, target, old[target]):
            laid[target] = new.get(target)
        else:
            disputed[target] = new.get(target)
    if disputed and report is not None:
        report.add(
            "proposed",
            f"{', '.join(_label(target) for target in disputed)}: changed by the source, and by an "
            "editor (or another source) since it last said it; proposed to editors.",
            row=row.line,
        )
    document = _lay(base, row, laid, old) if laid else base
    return StatementPlan(base=base, document=document, disputed=disputed, by_date=by_date, laid=set(laid))


def since_dates(statements):
    """{target: the date since which the source has said the value its view gives}: the as-of
    date of the oldest statement of the newest run of them that say that value (None:
    undated). Statements that say nothing of a target do not break the run; one that says
    another value does, as one whose blank cell clears it. The same whatever order the
    statements were imported in."""
    view = fold_statements(statements)
    ordered = sorted(statements, key=lambda statement: _statement_parts(statement)[0])
    since = {}
    for target, value in view.items():
        start = None
        for statement in reversed(ordered):
            if target not in statement.document:
                if target in statement.clears:
                    break
                continue
            said = statement.document[target]
            if said != value and not (target in PERIOD_TARGETS and more_precise(value, said) == value):
                break
            start = statement.as_of
        since[target] = start
    return since


def _is_source(origin, source):
    return isinstance(origin, dict) and origin.get("kind") == "source" and origin.get("source") == source


def since_override(document, previous, statements, *, source):
    """The provenance (expanded) of the values of `document` that the source gives, dated
    since when it has said them (`since_dates`): the values new on the incident and those
    whose origin is this source already (an older export dates them back). A value the
    incident held already from elsewhere (an editor, a proposal, before provenance) keeps its
    origin. None when no date differs from what the incident had (so a file that changes no
    value and no date writes no revision)."""
    since = since_dates(statements)
    said_id = fold_statements(statements).get("external_id", "")
    had = expand(previous) if previous else {}
    override, differs = {}, False
    for target, as_of in since.items():
        path = "external_ids" if target == "external_id" else _path(target)
        value = documents.get_path(document, path) if path else None
        if not value:
            continue
        origin = Origin.of_source(source, "export", as_of=as_of).as_json()
        held = documents.get_path(previous, path) if previous else None
        if documents.is_list_path(path):
            before = had.get(path) if isinstance(had.get(path), dict) else {}
            known = documents.keyed_items(path, held or [])
            items = {}
            for item in value:
                key = documents.provenance_item_key(path, item)
                if path == "external_ids" and key != f"aiaaic:{said_id}":
                    continue  # of the incident's ids, the sheet gives its own
                if key not in known or _is_source(before.get(key), source):
                    items[key] = origin
                    differs = differs or before.get(key) != origin
            if items:
                override[path] = items
        elif value != held or _is_source(had.get(path), source):
            override[path] = origin
            differs = differs or had.get(path) != origin
    return override if differs else None
