"""Cursor pagination by keyset: a page continues after the last row of the one before.

A cursor is an opaque token naming the sort and the key of the last row served (its values
in the sort's fields). The next page is the rows after that key in the same order, so pages
do not skip or repeat rows when incidents are published between two requests (as an offset
would). The one exception is the relevance sort of a full-text search, whose key is a
floating-point rank: its cursor carries an offset.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import Q
from rest_framework.exceptions import ValidationError

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 100
# A cursor's numbers travel to the database as 64-bit integers (keys, LIMIT and OFFSET): one
# outside that range is refused as any other foreign cursor, not left to overflow there.
BIGINT_MAX = 2**63 - 1
MAX_OFFSET = BIGINT_MAX - MAX_PAGE_SIZE - 1


class InvalidCursor(ValidationError):
    default_code = "invalid_cursor"


@dataclass(frozen=True)
class KeyField:
    name: str
    descending: bool = False
    nullable: bool = False
    nulls_first: bool = False  # where this database puts NULLs in this field's order
    kind: str = "int"  # how a value travels in a cursor: int, str, date, datetime


def _encode_value(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


def _decode_value(field, value):
    if value is None:
        if not field.nullable:
            raise ValueError("null")
        return None
    if field.kind == "int":
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not -BIGINT_MAX - 1 <= value <= BIGINT_MAX
        ):
            raise ValueError("int")
        return value
    if not isinstance(value, str):
        raise ValueError("text")
    if field.kind == "date":
        return date.fromisoformat(value)
    if field.kind == "datetime":
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        return parsed
    return value


def encode_cursor(sort, values=None, offset=None):
    payload = {"s": sort}
    if offset is not None:
        payload["o"] = offset
    else:
        payload["v"] = [_encode_value(value) for value in values]
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token, sort, fields):
    """The key values (or the offset, for an offset sort) a cursor carries; InvalidCursor if
    it is not one of ours or was made for another sort."""
    message = "The cursor is not valid for this list; start again from the first page."
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload = json.loads(raw)
        if not isinstance(payload, dict) or payload.get("s") != sort:
            raise ValueError("sort")
        if fields is None:
            offset = payload.get("o")
            if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
                raise ValueError("offset")
            return offset
        values = payload.get("v")
        if not isinstance(values, list) or len(values) != len(fields):
            raise ValueError("values")
        return [_decode_value(field, value) for field, value in zip(fields, values, strict=True)]
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor({"cursor": [message]}) from None


def _beyond(field, value):
    """Rows strictly after `value` in the field's order (NULLs placed as the database does)."""
    if value is None:
        # After NULL come the non-NULL values only where NULLs come first.
        return Q(**{f"{field.name}__isnull": False}) if field.nulls_first else Q(pk__in=[])
    lookup = "lt" if field.descending else "gt"
    condition = Q(**{f"{field.name}__{lookup}": value})
    if field.nullable and not field.nulls_first:
        condition |= Q(**{f"{field.name}__isnull": True})
    return condition


def _equal(field, value):
    if value is None:
        return Q(**{f"{field.name}__isnull": True})
    return Q(**{field.name: value})


def after(fields, values):
    """The Q of rows after the key `values` in the order of `fields` (the last field unique)."""
    condition = Q(pk__in=[])
    prefix = Q()
    for field, value in zip(fields, values, strict=True):
        condition |= prefix & _beyond(field, value)
        prefix &= _equal(field, value)
    return condition


def nulls_first_when_descending():
    """PostgreSQL sorts NULLs as larger than any value, SQLite as smaller."""
    return connection.vendor == "postgresql"


def page_size(request, default=DEFAULT_PAGE_SIZE, maximum=MAX_PAGE_SIZE):
    raw = request.query_params.get("page_size")
    if raw in (None, ""):
        return default
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if not 1 <= size <= maximum:
        raise ValidationError({"page_size": [f"A whole number from 1 to {maximum}."]}, code="invalid")
    return size


def keyset_page(queryset, request, *, sort, fields, size, key_of):
    """(rows of this page, the cursor of the next page or None). `key_of(row)` gives a row's
    values in `fields`; `fields` None means an offset cursor."""
    token = request.query_params.get("cursor")
    if fields is None:
        offset = decode_cursor(token, sort, None) if token else 0
        rows = list(queryset[offset : offset + size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return rows, encode_cursor(sort, offset=offset + size) if more else None
    if token:
        queryset = queryset.filter(after(fields, decode_cursor(token, sort, fields)))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, encode_cursor(sort, values=key_of(rows[-1])) if more else None


def page_url(request, cursor):
    """This request's address with `cursor` set (other parameters kept), or None."""
    if cursor is None:
        return None
    query = request.query_params.copy()
    query["cursor"] = cursor
    return request.build_absolute_uri(request.path + "?" + query.urlencode())
