"""How well the finder does on a labelled set (scripts/make_duplicate_labels.py makes one).

A labelled set is JSON: {"records": [...], "pairs": [[id, id, true/false, how], ...],
"same": [[id, id], ...]}. A record is {"id", "headline", "type", "year", "organisations",
"summary", "source"}: "source" names the record another database's record was written from
(the same event). Two records are the same event when one was written from the other, or
when "same" lists them (hand-checked pairs of one database); every other pair is not.

The finder runs on the records as it runs on the site (the same Finder, the same selection
and caps); precision counts every proposal it makes, labelled or not, so that it is what
editors would see.
"""

import datetime
import math
from dataclasses import dataclass

from . import pairs


def wilson(successes, total, z=1.96):
    """The Wilson score interval (95%) of a proportion: (low, high)."""
    if not total:
        return (0.0, 1.0)
    p = successes / total
    centre = p + z * z / (2 * total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    denominator = 1 + z * z / total
    return ((centre - spread) / denominator, (centre + spread) / denominator)


def corpus_of(records):
    """An in-memory Corpus of the records: {record id: pk} and the corpus."""
    corpus = pairs.Corpus()
    ids = {}
    for pk, record in enumerate(records, start=1):
        ids[record["id"]] = pk
        year = record.get("year")
        period = (datetime.date(year, 1, 1), datetime.date(year, 12, 31)) if year else (None, None)
        corpus.add(
            pk,
            number=pk,
            kind=record.get("type") or "",
            headline=record["headline"],
            summary=record.get("summary", ""),
            period=period,
            organisations=set(record.get("organisations", [])),
        )
        corpus.schemes[pk].add(record["id"].rstrip("0123456789-").casefold())
    return ids, corpus


@dataclass
class Measure:
    proposals: int
    right: int
    true_pairs: int
    found: int
    top3: int
    known: int  # true pairs written from another database's record (the top-3 rate's base)

    @property
    def precision(self):
        return self.right / self.proposals if self.proposals else 1.0

    @property
    def recall(self):
        return self.found / self.true_pairs if self.true_pairs else 1.0

    @property
    def top3_rate(self):
        return self.top3 / self.known if self.known else 1.0

    def lines(self):
        p_low, p_high = wilson(self.right, self.proposals)
        r_low, r_high = wilson(self.found, self.true_pairs)
        t_low, t_high = wilson(self.top3, self.known)
        return [
            f"proposals {self.proposals}, right {self.right}: precision {self.precision:.3f} "
            f"(95% Wilson {p_low:.3f}–{p_high:.3f})",
            f"true pairs {self.true_pairs}, proposed {self.found}: recall {self.recall:.3f} "
            f"(95% Wilson {r_low:.3f}–{r_high:.3f})",
            f"known pairs with the right incident among the top 3 candidates: {self.top3} of {self.known} "
            f"= {self.top3_rate:.3f} (95% Wilson {t_low:.3f}–{t_high:.3f})",
        ]


def measure(labelled):
    records = labelled["records"]
    ids, corpus = corpus_of(records)
    by_pk = {pk: record_id for record_id, pk in ids.items()}
    source = {record["id"]: record["source"] for record in records if record.get("source")}
    same = {frozenset(pair) for pair in labelled.get("same", [])}

    def truth(a, b):
        a, b = by_pk[a], by_pk[b]
        return source.get(a) == b or source.get(b) == a or frozenset((a, b)) in same

    finder = pairs.Finder(corpus)
    findings, result = finder.find()
    chosen = pairs.select(findings, set(), {}, result, finder.group)
    proposed = {frozenset((finding.first, finding.second)) for finding in chosen}
    right = sum(1 for pair in proposed if truth(*pair))
    true_pairs = [(a, b) for a, b, label, _how in labelled["pairs"] if label and a in ids and b in ids]
    found = sum(1 for a, b in true_pairs if frozenset((ids[a], ids[b])) in proposed)
    top3 = known = 0
    for record_id, written_from in source.items():
        if record_id not in ids or written_from not in ids:
            continue
        known += 1
        ranked = [pk for pk, _score in finder.ranked(ids[record_id])[:3]]
        top3 += ids[written_from] in ranked
    return Measure(len(proposed), right, len(true_pairs), found, top3, known)
