"""The load scripts/benchmark.py puts on a server: GET requests, as fast as the users can send
them, through the paths listed in the file named by BENCHMARK_PATHS (one per line): round and
round, or with BENCHMARK_ONCE=1 each path once, the users stopping when the list runs out (a
cold cache stays cold only until its pages have all been asked for once)."""

import itertools
import os
from pathlib import Path

from locust import FastHttpUser, constant, task
from locust.exception import StopUser

PATHS = Path(os.environ["BENCHMARK_PATHS"]).read_text().split()
NEXT = iter(PATHS) if os.environ.get("BENCHMARK_ONCE") == "1" else itertools.cycle(PATHS)


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self):
        path = next(NEXT, None)
        if path is None:
            raise StopUser()
        self.client.get(path, name="page")
