"""The load scripts/benchmark.py puts on a server: GET requests, as fast as the users can send
them, cycling through the paths listed in the file named by BENCHMARK_PATHS (one per line)."""

import itertools
import os
from pathlib import Path

from locust import FastHttpUser, constant, task

PATHS = Path(os.environ["BENCHMARK_PATHS"]).read_text().split()
NEXT = itertools.cycle(PATHS)


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def read(self):
        self.client.get(next(NEXT), name="page")
