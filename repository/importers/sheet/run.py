"""The sheet import: two passes over the file, publishing a chunk of rows at a time."""

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import reset_queries, transaction

from ... import documents
from ...bulk import PlannerStatistics
from ...models import Incident, Vocabulary, statement_order
from ...provenance import Origin
from ...services import IncidentMerged, PublishItem, StaleRevision, Taxonomy
from ..common import (
    ChunkRefused,
    DryRun,
    changed_meanwhile_text,
    chunk_publish,
    import_batch_finish,
    import_batch_start,
    import_run,
    proposals_on_commit,
    statements_save,
    statements_with_others,
)
from ..dating import as_of_text, export_date, file_hash
from ..reports import ImportReport
from .columns import (
    RowScanner,
    apply_row,
    check_row,
    merge_copies,
    parse_row,
    report_unknown_columns,
    row_view,
)
from .identify import SKIP, Identities, count_names, report_folds, report_merge_candidates, slug_hint
from .layout import HEADER_SEARCH_ROWS, SheetError, SheetSource, detect_layout
from .statements import Statement, since_override, statement_apply

# The import ---------------------------------------------------------------------------------


@dataclass
class ImportResult:
    layout: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    terms_created: int = 0
    entities_created: int = 0
    aliases_kept: int = 0
    report: ImportReport = field(default_factory=ImportReport)
    incident_ids: list = field(default_factory=list)  # created or changed
    seconds: float = 0.0
    batch: int | None = None  # the ImportBatch's id
    dry_run: bool = False  # nothing was kept: the counts say what the import would change
    changes: list = field(default_factory=list)  # (created|updated, number, slug, summary)
    as_of: object = None  # the export's date (None: undated)
    file_hash: str = ""
    as_of_note: str = ""  # the export's date, and where it was read (or that it has none)
    proposals: int = 0  # changes proposed to editors instead of made
    by_date: int = 0  # values of this export that a newer export of the source gives otherwise
    doubts: int = 0  # rows whose id names an incident of another story (merge proposed)
    # How a snapshot of this site was read: "restore" (into an empty database), "same" (back
    # into the installation it came from), "sheet" (another installation's: an ordinary sheet);
    # "" for a file that is no snapshot with numbers.
    snapshot_mode: str = ""

    @property
    def warnings(self):
        return [str(finding) for finding in self.report.warnings]


CHUNK = 200
SOURCE = "aiaaic"  # the SourceRecord of what the sheet said


def sheet_import(
    *,
    data=None,
    path=None,
    progress=None,
    strict=False,
    blank_clears=False,
    dry_run=False,
    file_name="",
    as_of=None,
):
    """Import an AIAAIC sheet export (`data` as bytes or text, or a file at `path`).
    Returns ImportResult.

    The file is read as a stream, twice: once for what the whole file says (spellings, ids
    repeated; a file that cannot be read fails here, before anything is written), once to
    publish its rows a chunk at a time, so memory does not grow with it. Each chunk commits
    on its own, so that editors publishing meanwhile wait for a chunk at most, never for the
    whole file; an import run again leaves what it imported already as it is, so a run that
    stopped half-way is finished by running it again. Its revisions carry a new ImportBatch.

    Raises SheetError when the file cannot be read at all (nothing is written), and with
    `strict` when any warning was found (nothing is written either: a strict run is one
    transaction). `dry_run` imports in one transaction and rolls it back: the result says
    what the import would change.

    Each row is a statement of the source as of the export's date (`as_of`, else read from
    the file's title rows or name; see `importers.dating`), kept beside the others: the
    source's view of an incident folds them by date, so exports imported in any order give
    the same record, and a file imported again changes nothing.
    """
    started = time.monotonic()
    report = ImportReport()
    source = SheetSource(data=data, path=path, report=report)
    head = []
    for line, cells in source.rows():
        head.append(cells)
        if line > HEADER_SEARCH_ROWS:
            break
    vocabularies = {v.slug: v for v in Vocabulary.objects.all()}
    layout = detect_layout(head, report, vocabularies.values())
    name = file_name or (path.name if hasattr(path, "name") else str(path or ""))
    as_of, how = export_date(given=as_of, title_rows=head[: layout.data_start], file_name=name)
    missing = sorted(
        {
            c.target.partition(":")[2]
            for c in layout.columns
            if c.target.startswith("terms:") and c.target.partition(":")[2] not in vocabularies
        }
    )
    if missing:
        raise SheetError(
            f"The site has no vocabulary {', '.join(missing)}; the sheet's columns need them "
            "(they come with the migrations: run `python manage.py migrate`)."
        )

    # First pass: spellings, ids met more than once (their later rows kept: the copies).
    lines, seen, copies, numbered = 0, set(), defaultdict(list), {}
    counts, first_row = defaultdict(Counter), {}
    scanner = RowScanner(layout)
    for line, cells in source.rows():
        if line <= layout.data_start or not any(cell.strip() for cell in cells):
            continue
        lines += 1
        scanned = scanner.scan(cells)
        if scanned is None:
            continue
        external_id, names = scanned
        identity = scanner.identity(cells)
        if identity is not None and identity[0] not in numbered:
            # A snapshot's rows are incidents of their own, even when they share an id.
            numbered[identity[0]] = identity[1]
        elif external_id and external_id in seen:
            copies[external_id].append(parse_row(cells, line, layout, ImportReport(), Counter()))
            continue
        seen.add(external_id)
        count_names(names, line, counts, first_row)
    del seen
    copy_lines = {row.line for rows in copies.values() for row in rows}
    report_folds(counts, first_row, report)
    result = ImportResult(layout=layout.name, rows=lines, report=report, as_of=as_of)
    result.file_hash = file_hash(data=data, path=path)
    result.as_of_note = as_of_text(as_of, how)
    result.snapshot_mode = snapshot_mode(numbered, report)
    taxonomy = Taxonomy()
    taxonomy.preferred = {key: counter.most_common(1)[0] for key, counter in counts.items()}
    run = _Run(
        source=source,
        layout=layout,
        lines=lines,
        copies=copies,
        copy_lines=copy_lines,
        counts=counts,
        vocabularies=vocabularies,
        taxonomy=taxonomy,
        summary=f"Imported from the AIAAIC sheet ({layout.name} layout)",
        blank_clears=blank_clears,
        result=result,
        progress=progress,
        strict=strict,
        dry_run=dry_run,
        file_name=name,
        identity=result.snapshot_mode in ("restore", "same"),
    )
    try:
        with import_run(whole=strict or dry_run):
            _import_rows(run)
    except DryRun:
        result.dry_run = True
    result.terms_created = taxonomy.created_terms
    result.entities_created = taxonomy.created_entities
    result.seconds = time.monotonic() - started
    return result


@dataclass
class _Run:
    """What the second pass works with: the file and what the first pass found in it."""

    source: SheetSource
    layout: object
    lines: int
    copies: dict  # id -> the later rows of an id met more than once
    copy_lines: set
    counts: dict  # (scope, key) -> Counter of spellings
    vocabularies: dict
    taxonomy: Taxonomy
    summary: str
    blank_clears: bool
    result: ImportResult
    progress: object
    strict: bool
    dry_run: bool
    file_name: str
    identity: bool = False  # a snapshot's number and slug say which incident a row is


def snapshot_mode(numbered, report):
    """How to read a snapshot whose rows carry their number and slug (`numbered`: {number:
    slug}): "restore" into a database without incidents and "same" back into the installation
    it came from (every number of the file in use here names the same slug: the rows are
    those incidents, by number, and new ones ask publishing for their numbers), "sheet"
    otherwise (another installation's: read as an ordinary sheet, its numbers not forced on
    unrelated incidents); "" for a file without numbers. The report says which."""
    if not numbered:
        return ""
    here = dict(Incident.objects.filter(number__in=list(numbered)).values_list("number", "slug"))
    if not here and not Incident.objects.exists():
        mode, text = "restore", "into an empty database: its incidents keep their numbers and slugs."
    elif here and all(numbered[number] == slug for number, slug in here.items()):
        mode, text = (
            "same",
            "of this installation: each row updates the incident of its number and slug, and "
            "its other rows are created with theirs.",
        )
    else:
        mode, text = (
            "sheet",
            "of another installation (its numbers and slugs name other incidents here): read "
            "as an ordinary sheet, its numbers not kept.",
        )
    report.add("snapshot-mode", f"A snapshot of this site, {text}")
    return mode


def _import_rows(run):
    """The second pass: the taxonomy's new names first, then the rows a chunk at a time (each
    chunk a transaction of its own, or a savepoint in a whole-import transaction), then the
    spellings met and the run marked finished."""
    result, report, taxonomy, counts = run.result, run.result.report, run.taxonomy, run.counts
    batch, stopped = import_batch_start(source=SOURCE, file_name=run.file_name, report=report)
    with transaction.atomic():
        taxonomy.preload()
        for scope, old, new in taxonomy.rename_to_preferred():
            report.add("renamed", f"{old!r} is now {new!r}, its most common spelling.", column=scope)
        taxonomy.ensure(
            terms=[
                (scope, name)
                for (scope, _key), names in counts.items()
                if scope in run.vocabularies
                for name in names
            ],
            entities=[
                (name, "system" if scope == "system" else "deployer")
                for (scope, _key), names in counts.items()
                if scope in ("system", "organisation")
                for name in names
            ],
        )
    taken, chunk, unknown_counts = {}, [], Counter()
    statistics = PlannerStatistics()
    layout, copies = run.layout, run.copies
    for line, cells in run.source.rows():
        if line <= layout.data_start or line in run.copy_lines:
            continue
        row = parse_row(cells, line, layout, report, unknown_counts)
        if row is None:
            continue
        if row.external_id in copies:
            merge_copies(row, copies.pop(row.external_id), report)
        if not check_row(row, set(run.vocabularies), report):
            continue
        chunk.append(row)
        if len(chunk) == CHUNK:
            before = result.created + result.updated
            _publish_chunk(chunk, taken, run, batch)
            statistics.wrote(result.created + result.updated - before)
            chunk = []
            if run.progress:
                run.progress(result.created + result.updated + result.unchanged, run.lines)
    if chunk:
        _publish_chunk(chunk, taken, run, batch)
    if run.progress:
        run.progress(result.created + result.updated + result.unchanged, run.lines)
    report_unknown_columns(layout, unknown_counts, report)
    result.skipped = run.lines - result.created - result.updated - result.unchanged - len(run.copy_lines)
    with transaction.atomic():
        result.aliases_kept = taxonomy.keep_spellings()
        report_merge_candidates(taxonomy, {scope for scope, _key in counts}, report)
        if run.strict and report.warnings:
            raise SheetError(
                f"--strict: {len(report.warnings):,} warning(s); nothing was imported.\n  "
                + "\n  ".join(str(finding) for finding in report.warnings[:20])
            )
        import_batch_finish(
            batch,
            stopped=stopped,
            created=result.created,
            updated=result.updated,
            incident_ids=result.incident_ids,
            source=SOURCE,
        )
        result.batch = batch.pk
        if run.dry_run:
            raise DryRun


def _publish_chunk(chunk, taken, run, batch):
    """Publish a chunk of rows, in a transaction of its own. `taken` maps each incident
    updated so far to its row."""
    with transaction.atomic():
        _publish_rows(
            chunk, taken, run.taxonomy, run.summary, run.blank_clears, run.result, batch, run.identity
        )


def _by_number(chunk):
    """{number: incident id} of the incidents a snapshot's rows name by number and slug (a
    restore, or a snapshot back into its installation); an incident merged since leads to the
    incident it was merged into."""
    wanted = {row.values["number"]: row.values.get("permalink") for row in chunk if row.values.get("number")}
    return {
        number: survivor or pk
        for number, slug, pk, survivor in Incident.objects.filter(number__in=list(wanted)).values_list(
            "number", "slug", "pk", "merged_into_id"
        )
        if wanted[number] == slug
    }


def _publish_rows(chunk, taken, taxonomy, summary, blank_clears, result, batch, identity=False):
    reset_queries()  # with DEBUG on, Django keeps every query's text: not an import's thousands
    report = result.report
    by_number = _by_number(chunk) if identity else {}
    unnumbered = [row for row in chunk if not (identity and row.values.get("number"))]
    identities = Identities(unnumbered) if unnumbered else None
    targets = []
    for row in chunk:
        if identity and row.values.get("number"):
            pk = by_number.get(row.values["number"])
            if pk in taken:
                report.add(
                    "merged-id",
                    f"incident {row.values['number']} was merged here into an incident row {taken[pk]} "
                    "updated already: this row is left as it is.",
                    row=row.line,
                )
                pk = SKIP
        else:
            pk = identities.find(row, report, taken)
        if pk is not None and pk is not SKIP:
            taken[pk] = row.line
        targets.append(pk)
    kept = [(row, pk) for row, pk in zip(chunk, targets, strict=True) if pk is not SKIP]
    if not kept:
        return
    chunk, targets = [row for row, _pk in kept], [pk for _row, pk in kept]
    found = [pk for pk in targets if pk is not None]
    loaded = Incident.objects.select_related("current_revision").defer("search_vector").in_bulk(found)
    existing, elsewhere = statements_with_others(source=SOURCE, incident_ids=found)
    items, plans = [], []
    for row, pk in zip(chunk, targets, strict=True):
        incident = loaded.get(pk) if pk is not None else None
        since = None  # the provenance of the source's values, where their dates differ from this file's
        statement = Statement(
            result.as_of, result.file_hash, row_view(row), row.blank if blank_clears else set()
        )
        if incident is None or incident.current_revision is None:
            # A new incident's document is the row's alone: check_row validated it already.
            document, normalized = row.checked, not blank_clears
            if not normalized:
                document = apply_row(documents.empty_document(), row, blank_clears=True, report=report)
            plan = None
        else:
            base = incident.current_revision.document
            plan = statement_apply(
                base, row, statement, existing.get(pk, []), report=report, elsewhere=elsewhere.get(pk, ())
            )
            document = plan.document
            result.by_date += plan.by_date
            earlier = [
                record
                for record in existing.get(pk, [])
                if not (record.as_of == statement.as_of and record.file_hash == statement.file_hash)
            ]
            if plan.laid or any(record.order > statement_order(statement.as_of, "") for record in earlier):
                # Values laid now, or an export older than one said before: since when the
                # source has said each value (the same date whatever order exports came in).
                since = since_override(document, base, [*earlier, statement], source=SOURCE)
            # A row that changes nothing leaves the published document, which publishing
            # normalized when it wrote it (an import run again: every row).
            normalized = document == base and base.get("schema") == documents.SCHEMA_VERSION
        plans.append((statement, plan))
        items.append(
            PublishItem(
                document=document,
                normalized=normalized,
                incident=incident,
                summary=summary,
                slug=slug_hint(row),
                number=row.values.get("number") if identity and incident is None else None,
                expected_revision=incident.current_revision_id if incident else None,
                origin=Origin.of_source(SOURCE, "export", as_of=result.as_of),
                provenance=since,
            )
        )
    lines = f"rows {chunk[0].line}-{chunk[-1].line}"
    try:
        outcomes = chunk_publish(items=items, taxonomy=taxonomy, where=lines, import_batch=batch)
    except ChunkRefused as exc:
        raise SheetError(_refused_text(exc, lines, result)) from None
    statements_save(
        source=SOURCE,
        as_of=result.as_of,
        file_hash=result.file_hash,
        statements={
            outcome.incident.pk: (statement.document, statement.clears)
            for (statement, _plan), outcome in zip(plans, outcomes, strict=True)
        },
        existing=existing,
        import_batch=batch,
    )
    proposals = []
    for row, (_statement, plan), outcome in zip(chunk, plans, outcomes, strict=True):
        if plan is not None and plan.disputed:
            proposals.append(
                plan.proposal(
                    outcome.incident.pk,
                    outcome.revision.document if outcome.revision else plan.base,
                    row,
                    result.as_of,
                )
            )
    result.proposals += len(proposals)
    doubts = []
    for row, outcome in zip(chunk, outcomes, strict=True):
        for other, text in identities.doubts.get(row.line, ()) if identities is not None else ():
            doubts.append(
                {
                    "incident_id": outcome.incident.pk,
                    "other_incident_id": other,
                    "reasons": [{"rule": "import-id", "id": row.external_id, "text": text}],
                }
            )
    result.doubts += len(doubts)
    proposals_on_commit(proposals=proposals, doubts=doubts)
    for row, outcome in zip(chunk, outcomes, strict=True):
        taken[outcome.incident.pk] = row.line
        if outcome.number_refused is not None:
            report.add(
                "number-taken",
                f"number {outcome.number_refused} names another incident here; this incident is "
                f"number {outcome.incident.number}.",
                row=row.line,
            )
        if outcome.created:
            result.created += 1
        elif outcome.changed:
            result.updated += 1
        else:
            result.unchanged += 1
        if outcome.changed:
            result.incident_ids.append(outcome.incident.pk)
            result.changes.append(
                (
                    "created" if outcome.created else "updated",
                    outcome.incident.number,
                    outcome.incident.slug,
                    outcome.revision.summary.removeprefix(f"{summary}: "),
                )
            )


def _refused_text(exc, lines, result):
    """Why a chunk was refused, and what of the file is imported (the chunks before it, each
    committed, unless the run is one transaction)."""
    if isinstance(exc.error, StaleRevision | IncidentMerged):
        committed = not transaction.get_connection().in_atomic_block and bool(
            result.created + result.updated + result.unchanged
        )
        return changed_meanwhile_text(lines, committed=committed)
    return str(exc)
