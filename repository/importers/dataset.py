"""Reading a JSON dataset snapshot back: restoring it into an empty or existing database.

The file is the array `snapshots.write_dataset` writes, one item per line
(`{"slug", "number", "revision", "created_at", "updated_at", "merged_into", "document"}`).
It is read line by line, so memory does not grow with the file; a file laid out otherwise
(pretty-printed, one line) is parsed whole. A file that is not JSON, or not an array, is
refused before anything is written.

Each item is checked against the snapshot schema (`schemas.py`) and by `documents.normalize`;
an item that fails is left out and reported with its line, and the others are restored.
Everything is written through publishing only (`incidents_publish`), a chunk of items at a
time, each chunk a transaction of its own (so editors publishing meanwhile wait for a chunk at
most; a restore run again leaves what it restored already as it is, so a run stopped half-way
is finished by running it again; `--strict` and `--dry-run` are one transaction):

- an incident is found by its slug when that slug names the same story here (the same
  number, a shared external id or the same headline); otherwise it is created with the
  item's slug and number when they are free, or with a new slug or number (and a warning);
- its document is published (summary "Restored from a dataset snapshot (<file>)") only when
  it differs from the current one, so importing a file twice changes nothing the second time;
- a new incident keeps the item's `created_at`; a published one its `updated_at`;
- `merged_into` marks an incident as merged into its survivor, as in the file, unless this
  site already says otherwise.

After the commit `signals.incidents_imported` is sent with source="dataset".
"""

import itertools
import json
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .. import documents, schemas
from ..bulk import PlannerStatistics
from ..documents import DocumentError
from ..models import Incident
from ..services import (
    IncidentMerged,
    MergeRefused,
    PublishItem,
    StaleRevision,
    Taxonomy,
    incident_merge,
    incident_search_refresh,
    unique_slug,
)
from ..services.taxonomy import entity_kind
from .common import (
    ChunkRefused,
    DryRun,
    changed_meanwhile_text,
    chunk_publish,
    import_batch_finish,
    import_batch_start,
    import_run,
    problem_text,
)
from .reports import Finding, ImportReport

CHUNK = 500
SOURCE = "dataset"
SUMMARY = "Restored from a dataset snapshot ({name})"
# How many lines from the top are looked at to tell one item per line from another layout.
SNIFF_LINES = 20


class DatasetError(Exception):
    """A file that cannot be restored; nothing was written. `report` holds what was found."""

    def __init__(self, message, report=None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class LineFinding(Finding):
    """A finding about one line of a JSON file."""

    def __str__(self):
        where = f"line {self.row}" if self.row else ""
        if self.column:
            where = f"{where} ({self.column})" if where else self.column
        return f"{where}: {self.message}" if where else self.message


class DatasetReport(ImportReport):
    def add(self, kind, message, row=None, column=""):
        self.findings.append(LineFinding(kind, row, column, message))


@dataclass
class DatasetResult:
    file_name: str
    layout: str = ""  # "lines" (one item per line) or "whole"
    items: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    left_out: int = 0
    report: DatasetReport = field(default_factory=DatasetReport)
    incident_ids: list = field(default_factory=list)
    batch: int | None = None  # the ImportBatch's id
    dry_run: bool = False  # nothing was kept: the counts say what the restore would change
    changes: list = field(default_factory=list)  # with dry_run: (created|updated, number, slug, summary)

    @property
    def warnings(self):
        return self.report.warnings


# Reading ----------------------------------------------------------------------------------


class _Unreadable:
    """A line that is not a JSON value: kept in the stream of items to be reported."""

    def __init__(self, reason):
        self.reason = reason


def _json_line(text):
    """The JSON value of one item line (the comma that separates items stripped), or raise."""
    text = text.strip()
    if text.startswith(","):
        text = text[1:]
    if text.endswith(","):
        text = text[:-1]
    return json.loads(text)


def _ends_with_bracket(handle):
    handle.seek(0, 2)
    size = handle.tell()
    handle.seek(max(0, size - 256))
    tail = handle.read().rstrip()
    handle.seek(0)
    return tail.endswith(b"]")


def _one_item_per_line(handle):
    """Whether the file is laid out as write_dataset writes it: '[', one item per line, ']'."""
    first = handle.readline().decode("utf-8-sig", errors="replace").strip()
    try:
        if first != "[" or not _ends_with_bracket(handle):
            return False
        handle.readline()
        for line in itertools.islice(handle, SNIFF_LINES):
            try:
                value = _json_line(line.decode("utf-8"))
            except ValueError:
                continue
            if isinstance(value, dict) and "document" in value:
                return True
        return False
    finally:
        handle.seek(0)


def _lines(handle):
    """(line number, value) for each item of a file in the one-item-per-line layout."""
    ended = None
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
        except UnicodeDecodeError as exc:
            yield number, _Unreadable(f"not UTF-8 text (byte {exc.start})")
            continue
        if not text or (number == 1 and text == "["):
            continue
        if ended is not None:
            raise DatasetError(f"Line {number}: text after the end of the array (line {ended}).")
        if text == "]":
            ended = number
            continue
        try:
            yield number, _json_line(text)
        except json.JSONDecodeError as exc:
            try:  # the last item and the closing bracket on one line
                value = _json_line(text.removesuffix("]")) if text.endswith("]") else None
            except json.JSONDecodeError:
                value = None
            if value is None:
                yield number, _Unreadable(f"not a JSON item ({exc.msg} at column {exc.colno})")
            else:
                ended = number
                yield number, value


def _kind(value):
    """What a JSON value is, in words."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "true or false"
    return "null" if value is None else "a number"


def _whole(data):
    """(line number, value) for each item of a JSON array read whole, or DatasetError."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"The file is not UTF-8 text (byte {exc.start}).") from None
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DatasetError(f"The file is not JSON: {exc}.") from None
    if not isinstance(value, list):
        raise DatasetError(f"The file is JSON but not an array of incidents: it holds {_kind(value)}.")
    # The line each item starts on, by decoding the array one item at a time.
    decoder, items, position = json.JSONDecoder(), [], text.index("[") + 1
    line, counted = 1, 0
    for _ in value:
        while text[position] in " \t\r\n,":
            position += 1
        line += text.count("\n", counted, position)
        counted = position
        item, position = decoder.raw_decode(text, position)
        items.append((line, item))
    return items


def read_items(path):
    """The items of a JSON snapshot as (line, value), and the layout found ("lines" or "whole").

    Raises DatasetError for a file that is not a JSON array (before any item is yielded).
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise DatasetError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    if _one_item_per_line(handle):
        return "lines", _closing(handle, _lines(handle))
    try:
        data = handle.read()
    finally:
        handle.close()
    return "whole", iter(_whole(data))


def _closing(handle, items):
    try:
        yield from items
    finally:
        handle.close()


# Checking ---------------------------------------------------------------------------------


@dataclass
class Entry:
    """One item that passed the checks, ready to restore."""

    line: int
    slug: str
    number: int
    document: dict  # normalized
    created_at: object = None
    updated_at: object = None
    merged_into: str | None = None


def _when(item, key, line, report, slug):
    text = item.get(key)
    if text is None:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:
        value = None
    if value is None:
        report.add("unreadable-field", f"{key} {text[:40]!r} is not a date and time; left out.", line, slug)
        return None
    return value if timezone.is_aware(value) else value.replace(tzinfo=UTC)


def _check(line, item, validator, vocabularies, report):
    """The item as an Entry, or None when it is left out (and reported)."""
    if isinstance(item, _Unreadable):
        report.add("invalid-item", f"{item.reason}; left out.", line)
        return None
    if not isinstance(item, dict):
        report.add("invalid-item", f"an item is an object, not {_kind(item)}; left out.", line)
        return None
    slug = item.get("slug") if isinstance(item.get("slug"), str) else ""
    document = item.get("document")
    upgraded = False
    if isinstance(document, dict):
        version = document.get("schema", 1)
        if version == 1:
            # Schema 1 lacked fields that schema 2 requires: normalize upgrades and fills them.
            try:
                document = documents.normalize(document, vocabularies=vocabularies)
            except DocumentError as exc:
                report.add("invalid-item", f"{problem_text(exc)}; left out.", line, slug)
                return None
            item, upgraded = {**item, "document": document}, True
            report.add("upgraded", "a schema 1 document, read as schema 2.", line, slug)
        elif version == 2:
            # Schema 3 added provenance beside the values, optional: a schema 2 document is
            # one whose values were all recorded before provenance.
            document = documents.upgrade(document)
            item = {**item, "document": document}
        elif version != documents.SCHEMA_VERSION:
            report.add(
                "unknown-schema",
                f"the document is of schema {version!r}; this site reads {documents.SCHEMA_VERSION} "
                "(and 1 and 2); left out.",
                line,
                slug,
            )
            return None
    problem = schemas.first_error(validator, item)
    if problem:
        report.add("invalid-item", f"{problem}; left out.", line, slug)
        return None
    if upgraded:
        clean = document
    else:
        try:
            clean = documents.normalize(document, vocabularies=vocabularies)
        except DocumentError as exc:
            report.add("invalid-item", f"{problem_text(exc)}; left out.", line, slug)
            return None
    if not documents.same_values(clean, document):  # (an empty provenance map is no map)
        changes = documents.change_summary(documents.diff(document, clean))
        report.add("not-canonical", f"{changes} (as the site normalizes them).", line, slug)
    return Entry(
        line=line,
        slug=slug,
        number=item["number"],
        document=clean,
        created_at=_when(item, "created_at", line, report, slug),
        updated_at=_when(item, "updated_at", line, report, slug),
        merged_into=item.get("merged_into"),
    )


# Restoring --------------------------------------------------------------------------------


class _Restore:
    """One import's state: what the file's slugs became here, the numbers in use, the work left."""

    def __init__(self, *, result, taxonomy, summary, batch):
        self.result = result
        self.report = result.report
        self.taxonomy = taxonomy
        self.summary = summary
        self.vocabularies = set(taxonomy.vocabularies)
        self.validator = schemas.item_validator()
        self.seen = {}  # the file's slug -> its line
        self.local = {}  # the file's slug -> the incident's id here
        self.numbers = set()  # numbers given in this import
        self.renumber = []  # entries whose number is taken here: created once the file is read
        self.merges = []  # (entry, incident id)
        self.times = {}  # incident id -> {field: time}, not yet written
        self.file_times = {}  # incident id -> {field: time}, every one the file gave
        self.changed = set()  # ids of incidents created or published in this import
        self.created_ids = set()  # ids of incidents created in this import
        self.batch = batch
        self.chunks_committed = 0  # chunks written in transactions of their own, and committed

    def chunk(self, pairs):
        entries = []
        for line, item in pairs:
            self.result.items += 1
            entry = _check(line, item, self.validator, self.vocabularies, self.report)
            if entry is not None and entry.slug in self.seen:
                self.report.add(
                    "repeated-item",
                    f"the slug is also on line {self.seen[entry.slug]}; this item left out.",
                    line,
                    entry.slug,
                )
                entry = None
            if entry is None:
                self.result.left_out += 1
                continue
            self.seen[entry.slug] = line
            entries.append(entry)
        if not entries:
            return
        self._prepare_taxonomy(entries)
        found = {
            incident.slug: incident
            for incident in Incident.objects.filter(slug__in=[entry.slug for entry in entries])
            .defer("search_vector")
            .select_related("current_revision")
            .prefetch_related("external_ids")
        }
        numbers = dict(
            Incident.objects.filter(number__in=[entry.number for entry in entries]).values_list(
                "number", "slug"
            )
        )
        creates, updates = [], []
        for entry in entries:
            incident = found.get(entry.slug)
            if incident is not None and not self._same_story(incident, entry):
                incident = None
            if incident is not None:
                if self._needs_update(entry, incident):
                    updates.append((entry, incident))
                continue
            owner = numbers.get(entry.number)
            if owner is None and entry.number not in self.numbers:
                self.numbers.add(entry.number)  # kept for it: created below, with the chunk's others
                creates.append(entry)
            else:
                self.renumber.append((entry, owner))
        self._update_all(updates)
        self._create_all(creates)
        self._save_times()

    def finish(self):
        """Create the incidents whose numbers were taken (above every number now in use),
        link the merged ones, and keep the spellings met."""
        for entry, owner in self.renumber:
            [incident] = self._create_all([entry], refused_told=True)
            self.report.add(
                "number-taken",
                f"number {entry.number} is {'incident ' + owner if owner else 'another item of the file'} "
                f"here; this incident is number {incident.number}.",
                entry.line,
                entry.slug,
            )
        self._save_times()
        self._link_merges()
        self._save_times()
        self.taxonomy.keep_spellings(count_uses=False)
        ids = sorted(self.changed)
        for start in range(0, len(ids), CHUNK):
            incident_search_refresh(incident_ids=ids[start : start + CHUNK])
        self.result.incident_ids = ids

    def _prepare_taxonomy(self, entries):
        """Create in bulk the terms and organisations of a chunk that this site lacks, each
        under the spelling the file uses for it."""
        terms, entities = [], []
        for entry in entries:
            for slug, names in entry.document["terms"].items():
                for name in names:
                    terms.append((slug, name))
                    self.taxonomy.preferred.setdefault((slug, documents.fold(name)), (name, 1))
            for role, names in entry.document["entities"].items():
                for name in names:
                    entities.append((name, role))
                    self.taxonomy.preferred.setdefault((entity_kind(role), documents.fold(name)), (name, 1))
        self.taxonomy.ensure(terms=terms, entities=entities)

    def _same_story(self, incident, entry):
        if incident.number == entry.number:
            return True
        ids = {(item["scheme"], item["value"]) for item in entry.document["external_ids"]}
        if ids & {(item.scheme, item.value) for item in incident.external_ids.all()}:
            same = True
        else:
            same = documents.fold(incident.headline) == documents.fold(entry.document["headline"])
        if same:
            self.report.add(
                "number-taken",
                f"this incident is number {incident.number} here and {entry.number} in the file; "
                f"it keeps {incident.number}.",
                entry.line,
                entry.slug,
            )
        return same

    def _publish(self, items, where):
        """Publish a chunk's items together (the sheet's path), or raise DatasetError."""
        try:
            return chunk_publish(items=items, taxonomy=self.taxonomy, where=where, import_batch=self.batch)
        except ChunkRefused as exc:
            if isinstance(exc.error, StaleRevision):
                raise DatasetError(changed_meanwhile_text(where, committed=self.committed())) from None
            raise

    def committed(self):
        """Whether chunks of this run were committed already (each chunk commits on its own,
        unless the whole run is one transaction)."""
        return self.chunks_committed > 0

    def _item(self, entry, **arguments):
        # The file's own provenance is kept; a value it says nothing of has none.
        return PublishItem(
            document=entry.document,
            summary=self.summary,
            normalized=True,
            provenance=entry.document.get("provenance") or {},
            **arguments,
        )

    def _create_all(self, entries, refused_told=False):
        """Create the entries' incidents, asking publishing for the file's numbers: each is
        given when free (those in use were put off to `finish`, so that they do not take the
        numbers of items further on); another is given otherwise, and reported."""
        if not entries:
            return []
        taken, slugs = self.taxonomy.incident_slugs, []
        for entry in entries:
            in_use = lambda slug: slug in taken or slug in slugs  # noqa: E731
            slugs.append(entry.slug if not in_use(entry.slug) else unique_slug(entry.slug, in_use, 255))
        where = f"Lines {entries[0].line}-{entries[-1].line}"
        items = [
            self._item(entry, slug=slug, number=entry.number)
            for entry, slug in zip(entries, slugs, strict=True)
        ]
        outcomes = self._publish(items, where)
        created = []
        for entry, slug, outcome in zip(entries, slugs, outcomes, strict=True):
            incident = outcome.incident
            if outcome.number_refused is not None and not refused_told:
                self.report.add(
                    "number-taken",
                    f"number {entry.number} was given to another incident while the import ran; this "
                    f"incident is number {incident.number}.",
                    entry.line,
                    entry.slug,
                )
            if incident.slug != entry.slug:
                reason = (
                    "the slug names a different story here"
                    if slug != entry.slug
                    else "not a slug this site writes"
                )
                self.report.add(
                    "slug-taken", f"{reason}; this incident is {incident.slug}.", entry.line, entry.slug
                )
            self.numbers.add(incident.number)
            self.result.created += 1
            self.changed.add(incident.pk)
            self.created_ids.add(incident.pk)
            self.local[entry.slug] = incident.pk
            self._keep_times(incident, entry, created=True)
            self._check_identical(entry, outcome.revision.document)
            if entry.merged_into:
                self.merges.append((entry, incident.pk))
            created.append(incident)
        return created

    def _needs_update(self, entry, incident):
        """Note the entry's incident here; True when its document differs from the file's."""
        self.local[entry.slug] = incident.pk
        self.numbers.add(incident.number)
        if entry.merged_into or incident.merged_into_id:
            self.merges.append((entry, incident.pk))
        current = incident.current_revision.document if incident.current_revision else None
        if current is not None and documents.same_values(current, entry.document):
            self.result.unchanged += 1
            if entry.updated_at:  # a merge left to the end of the file dates it anew: the file's time
                self.file_times[incident.pk] = {"updated_at": entry.updated_at}
            return False
        return True

    def _update_all(self, updates):
        """Publish the file's documents of incidents found here, together; one merged here
        is left as it is (the chunk's others are then published one at a time)."""
        if not updates:
            return
        items = [
            self._item(entry, incident=incident, expected_revision=incident.current_revision_id)
            for entry, incident in updates
        ]
        try:
            outcomes = self._publish(items, f"Lines {updates[0][0].line}-{updates[-1][0].line}")
        except ChunkRefused:
            outcomes = []
            for (entry, _incident), item in zip(updates, items, strict=True):
                try:
                    [outcome] = self._publish([item], f"Line {entry.line}: incident {entry.slug}")
                except ChunkRefused as exc:
                    outcome = exc.error
                outcomes.append(outcome)
        for (entry, incident), outcome in zip(updates, outcomes, strict=True):
            if isinstance(outcome, IncidentMerged):
                self.report.add(
                    "merge-differs",
                    "merged into another incident here, and its document in the file differs; left as is.",
                    entry.line,
                    entry.slug,
                )
                self.result.unchanged += 1
                continue
            if isinstance(outcome, Exception):
                raise DatasetError(f"Line {entry.line}: incident {entry.slug}: {problem_text(outcome)}")
            if outcome.changed:
                self.result.updated += 1
                self.changed.add(incident.pk)
                self._keep_times(incident, entry, created=False)
                stored = outcome.revision.document
            else:
                self.result.unchanged += 1
                stored = incident.current_revision.document
            self._check_identical(entry, stored)

    def _check_identical(self, entry, stored):
        if not documents.same_values(stored, entry.document):
            changes = documents.change_summary(documents.diff(entry.document, stored))
            self.report.add(
                "not-identical",
                f"stored under this site's names: {changes}.",
                entry.line,
                entry.slug,
            )

    def _keep_times(self, incident, entry, created):
        times = {}
        if created and entry.created_at:
            times["created_at"] = entry.created_at
        if entry.updated_at:
            times["updated_at"] = entry.updated_at
        if times:
            self.times[incident.pk] = self.file_times[incident.pk] = times

    def _save_times(self):
        """Give the incidents restored in a chunk the times the file has (a save would set
        `updated_at` to now; Django's bulk_update is slow at this size): one statement, run
        for each incident."""
        if not self.times:
            return
        table = connection.ops.quote_name(Incident._meta.db_table)
        adapt = connection.ops.adapt_datetimefield_value
        groups = {}
        for pk, times in self.times.items():
            fields = tuple(sorted(times))
            groups.setdefault(fields, []).append([adapt(times[name]) for name in fields] + [pk])
        for fields, rows in groups.items():
            assignments = ", ".join(f"{connection.ops.quote_name(name)} = %s" for name in fields)
            with connection.cursor() as cursor:
                cursor.executemany(f"UPDATE {table} SET {assignments} WHERE id = %s", rows)  # noqa: S608
        self.times = {}

    def _link_merges(self):
        wanted = {}
        for entry, pk in self.merges:
            wanted[pk] = entry
        targets = {entry.merged_into for entry in wanted.values() if entry.merged_into}
        survivors = dict(Incident.objects.filter(slug__in=targets).values_list("slug", "pk"))
        current = dict(Incident.objects.filter(pk__in=wanted).values_list("pk", "merged_into_id"))
        for pk, entry in wanted.items():
            target = self.local.get(entry.merged_into) or survivors.get(entry.merged_into)
            here = current.get(pk)
            if entry.merged_into and target is None:
                self.report.add(
                    "merge-differs",
                    f"merged into {entry.merged_into}, which is neither in the file nor here; left unmerged.",
                    entry.line,
                    entry.slug,
                )
            elif here == target:
                continue
            elif here is not None:
                survivor = Incident.objects.filter(pk=here).values_list("slug", flat=True).first()
                said = f"into {entry.merged_into}" if entry.merged_into else "not merged"
                self.report.add(
                    "merge-differs",
                    f"merged into {survivor} here, {said} in the file; left as is.",
                    entry.line,
                    entry.slug,
                )
            elif target == pk:
                self.report.add(
                    "merge-differs", "merged into itself in the file; left unmerged.", entry.line, entry.slug
                )
            else:
                # As an editor merges: the merged incident's links move to its survivor.
                try:
                    incident_merge(
                        survivor=Incident(pk=target), merged=Incident(pk=pk), editor=None, note=self.summary
                    )
                except MergeRefused as exc:
                    self.report.add(
                        "merge-differs", f"{str(exc).rstrip('.')}; left unmerged.", entry.line, entry.slug
                    )
                    continue
                self.report.add(
                    "merged", f"merged into {entry.merged_into}, as in the file.", entry.line, entry.slug
                )
                self.changed.add(target)
                for incident_id in (pk, target):  # the merge's revisions are dated now: the file's times
                    if incident_id in self.file_times:
                        self.times[incident_id] = self.file_times[incident_id]
                if pk not in self.changed:
                    self.changed.add(pk)
                    self.result.unchanged -= 1
                    self.result.updated += 1


def dataset_import(*, path, strict=False, progress=None, dry_run=False):
    """Restore the JSON snapshot at `path` into this database, a chunk at a time (each chunk
    commits on its own; with `strict` or `dry_run` the whole restore is one transaction).

    Returns a DatasetResult. Raises DatasetError for a file that is not a JSON array, and,
    with `strict`, when anything was left out or changed (then nothing is written).
    `progress(items read)` is called after each chunk. `dry_run` rolls the transaction back:
    the result says what the restore would change (`changes`).
    """
    path = Path(path)
    result = DatasetResult(file_name=path.name)
    result.layout, items = read_items(path)
    taxonomy = Taxonomy()
    try:
        return _dataset_import(path, result, items, taxonomy, strict, progress, dry_run)
    except DryRun:
        result.dry_run, result.batch = True, None
        return result
    except IntegrityError as exc:
        done = (
            "the chunks before it were imported"
            if not (strict or dry_run) and (result.created or result.updated or result.unchanged)
            else "nothing was imported"
        )
        raise DatasetError(
            f"The database refused a write ({str(exc).strip()[:200]}); {done}. "
            "If incidents were published on the site while the import ran, run it again."
        ) from None


def _dataset_import(path, result, items, taxonomy, strict, progress, dry_run=False):
    whole = strict or dry_run
    summary = SUMMARY.format(name=path.name)
    with import_run(whole=whole):
        batch, stopped = import_batch_start(source=SOURCE, file_name=path.name, report=result.report)
        with transaction.atomic():
            taxonomy.preload()
        restore = _Restore(result=result, taxonomy=taxonomy, summary=summary, batch=batch)
        iterator, statistics = iter(items), PlannerStatistics()
        while chunk := list(itertools.islice(iterator, CHUNK)):
            written = len(restore.changed)
            with transaction.atomic():
                restore.chunk(chunk)
            if not whole:
                restore.chunks_committed += 1
            statistics.wrote(len(restore.changed) - written)
            if progress:
                progress(result.items)
        with transaction.atomic():
            restore.finish()
            if strict and result.warnings:
                raise DatasetError(
                    f"{len(result.warnings):,} warning(s) with --strict; nothing was imported.", result.report
                )
            result.batch = batch.pk
            import_batch_finish(
                batch,
                stopped=stopped,
                created=result.created,
                updated=result.updated,
                incident_ids=result.incident_ids,
                source=SOURCE,
            )
            if dry_run:
                result.changes = _changes(result, restore.created_ids, summary)
                raise DryRun
    return result


def _changes(result, created_ids, summary):
    """What the restore changed, as the sheet's dry run prints it (read before rolling back)."""
    rows = Incident.objects.filter(pk__in=result.incident_ids).order_by("number")
    return [
        (
            "created" if pk in created_ids else "updated",
            number,
            slug,
            (said or "").removeprefix(f"{summary}: "),
        )
        for pk, number, slug, said in rows.values_list("pk", "number", "slug", "current_revision__summary")
    ]
