"""Django's Redis cache, keeping its Redis client instead of building one per command.

Django's RedisCacheClient makes a new `redis.Redis` for every cache call (`get_client`), and
redis-py fills each new client's table of reply handlers (about 170 entries): about 160 µs
of processor time per call, as much as the call's own round trip. A cached page costs one call,
a rendered one five. A `redis.Redis` holds no connection of its own (it borrows one from the
server's pool for each command and gives it back), is safe to share between threads, and its
pool notices a fork and starts afresh; so one per server and process is kept here. Everything
else (pools, options, serializer, failures raised to the caller) is Django's.
"""

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        # Django's own choice of server and its pool (kept for the process), one client each.
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients[id(pool)] = self._client(connection_pool=pool)
        return client


class RedisCache(django_redis.RedisCache):
    """`django.core.cache.backends.redis.RedisCache` with the client above; same settings."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
