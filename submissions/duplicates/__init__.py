"""Matching in one place: which published incidents may be one event.

- `pairs`: the background finder (`duplicates_find`), which proposes pairs of published
  incidents as merge proposals, and the function that stores one such proposal.
- `check`: the report-time check (`find_duplicates`), run before a report is sent and on its
  review page.
- `words`: the one word list and the one way of reading a headline's words.
- `similarity`: the one headline similarity (used by both, and by the queue's look-alike reports).
- `measure`: the finder's precision, recall and top-3 rate on a labelled set.
"""

from .check import find_duplicates
from .pairs import duplicates_find, merge_proposals_create, reason_text
from .words import headline_words

__all__ = ["duplicates_find", "find_duplicates", "headline_words", "merge_proposals_create", "reason_text"]
