"""Django's PostgreSQL backend with a connection pool that heals as soon as the server is back.

psycopg_pool retries a failed connection with a doubling delay (1 s, 2 s, 4 s, 8 s…), so after
an outage of a few seconds a process's next attempt may come many seconds after PostgreSQL
returned, and until then its requests get 503s. Here every retry comes at most
RECONNECT_MAX_DELAY after the last (a refused connection costs nothing; a hanging one costs a
pool worker's thread DATABASE_CONNECT_TIMEOUT seconds).

The pool's check, run on each connection it hands out, makes no round trip: an idle connection
has nothing to read unless the server ended it (PostgreSQL sends its goodbye and closes the
socket on a restart, a crash or a terminated backend), so a readable socket means a dead one,
and it is replaced rather than given to the request. A check that queried the server would
hang a request on a paused server as long as the query it guards; this one never blocks. A
connection cut silently (no goodbye) fails the request's first query after the TCP keepalives
and `tcp_user_timeout` of config/settings.py.

`Pool` overrides two private methods of psycopg_pool 3.3 (`_add_connection`, and the check
loop of `getconn`), so psycopg-pool is pinned in requirements.txt; the fault tests
(config/tests/test_database_faults.py) fail if an upgrade changes what they rely on.
"""

import select
from time import monotonic

from django.db.backends.postgresql import base
from psycopg import OperationalError
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

RECONNECT_FIRST_DELAY = 0.05  # seconds after the first failure
RECONNECT_MAX_DELAY = 0.5  # seconds between attempts at most


class Attempt(AttemptWithBackoff):
    """psycopg_pool's backoff (doubling, with jitter), started small and capped."""

    INITIAL_DELAY = RECONNECT_FIRST_DELAY

    def update_delay(self, now):
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_MAX_DELAY)


def connection_check(conn):
    """Raise if the connection is known dead, without a round trip to the server."""
    if conn.closed or conn.broken:
        raise OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.pgconn.socket], [], [], 0)
    if readable:  # idle, yet the server said something: its goodbye, or the end of the stream
        conn.close()  # closed, the pool drops it and opens another (an open one it would keep)
        raise OperationalError("the server ended the connection")


class Pool(ConnectionPool):
    def _add_connection(self, attempt, growing=False):
        # The first failure creates the attempt that every retry of this connection carries.
        return super()._add_connection(attempt or Attempt(timeout=self.reconnect_timeout), growing)

    def _getconn_with_check_loop(self, deadline):
        # A connection that fails the check is dropped (and replaced by the pool); the next
        # one is tried at once, as the check never waits on the network.
        while True:
            conn = self._getconn_unchecked(deadline - monotonic())
            try:
                self._check_connection(conn)
            except Exception:
                self._putconn(conn, from_getconn=True)
                continue
            except BaseException:
                self._putconn(conn, from_getconn=True)
                raise
            return conn


class DatabaseWrapper(base.DatabaseWrapper):
    @property
    def pool(self):
        pool_options = self.settings_dict["OPTIONS"].get("pool")
        if self.alias == base.NO_DB_ALIAS or not pool_options:
            return None
        if self.alias not in self._connection_pools:
            if self.settings_dict.get("CONN_MAX_AGE", 0) != 0:
                raise base.ImproperlyConfigured("Pooling doesn't support persistent connections.")
            connect_kwargs = self.get_connection_params()
            connect_kwargs["autocommit"] = True  # as Django's: it sets autocommit itself later
            pool = Pool(
                kwargs=connect_kwargs,
                open=False,
                configure=self._configure_connection,
                check=connection_check if self.settings_dict["CONN_HEALTH_CHECKS"] else None,
                **({} if pool_options is True else pool_options),
            )
            # As Django's: the first of several threads creating a pool at start-up wins.
            self._connection_pools.setdefault(self.alias, pool)
        return self._connection_pools[self.alias]
