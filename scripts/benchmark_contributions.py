"""The contribution path under load: proposals at fixed arrival rates while editors approve, and
the saturation throughput, with locust against gunicorn as in production.

    DATABASE_URL=postgres://airepo@127.0.0.1:5432/airepo_bench .venv/bin/python \\
        scripts/benchmark_contributions.py [--seconds 30] [--rates 2,10] [--workers 2,4] \\
        [--redis redis://127.0.0.1:6379/13]

The database must be migrated and hold published incidents (e.g. the 2024 sheet imported with
`import_sheet`); the run adds proposals and publishes approvals in it, so use a copy. Redis
(--redis, a database number of its own, emptied first) is the shared cache and the broker; no
Celery worker runs, so notifications wait in the outbox as they would with a slow worker.

Each run starts gunicorn (gunicorn.conf.py: threaded workers, DEBUG off, collected static files)
and locust with three kinds of users at once:
- contributors: three improvements ("improve: form" then "improve: send") for each report
  ("report: form", "report: send", and "report: duplicate step" when the report looks like
  incidents already published, which half of them are made to); at a fixed arrival rate of
  proposals per second (--rates), or as fast as 16 users can (the saturation run, per --workers);
- two editors, each approving a pending proposal every two seconds ("editor: queue",
  "editor: review", "editor: approve");
- a reader asking for the stylesheet ("static") and /healthz five times a second each.

It prints, per run and step, the requests, failures, p50 and p95 in milliseconds, and the
proposals sent per second. The numbers are the machine's: on a machine shared with other work
they move from run to run.
"""

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from submissions.tests.faults import Site, collect_static  # noqa: E402

EDITOR_PASSWORD = "bench-editor-password-1"  # noqa: S105 - a throwaway account in a benchmark copy

LOCUSTFILE = r'''
import html.parser, os, random, re
from urllib.parse import urlencode
from locust import FastHttpUser, constant, constant_throughput, task

SLUGS = open(os.environ["BENCH_SLUGS"]).read().split()
HEADLINES = open(os.environ["BENCH_HEADLINES"]).read().splitlines()
RATE = float(os.environ["BENCH_RATE_PER_USER"])
STATIC = os.environ["BENCH_STATIC"]
PASSWORD = os.environ["BENCH_EDITOR_PASSWORD"]


class Forms(html.parser.HTMLParser):
    """The fields of each POST form of a page: [(action, [(name, value)])]."""

    def __init__(self, text):
        super().__init__()
        self.forms, self.current = [], None
        self.textarea = self.select = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.current = []
            self.forms.append((a.get("action") or "", self.current))
        if self.current is None or ("name" not in a and tag != "option"):
            return
        if tag == "input":
            kind = (a.get("type") or "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            if kind not in ("submit", "button", "file"):
                self.current.append((a["name"], a.get("value") or ""))
        elif tag == "textarea":
            self.textarea = [a["name"], ""]
        elif tag == "select":
            self.select = [a["name"], None]
        elif tag == "option" and self.select is not None:
            if self.select[1] is None or "selected" in a:
                self.select[1] = a.get("value", "")

    def handle_data(self, data):
        if self.textarea is not None:
            self.textarea[1] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self.textarea is not None:
            self.current.append(tuple(self.textarea))
            self.textarea = None
        elif tag == "select" and self.select is not None:
            self.current.append((self.select[0], self.select[1] or ""))
            self.select = None
        elif tag == "form":
            self.current = None


def form_fields(text, field=None, action=""):
    """The first POST form with `field` among its fields and `action` in its address."""
    for address, fields in Forms(text).forms:
        if action in address and (field is None or any(name == field for name, _ in fields)):
            return fields
    return []


def send(client, path, fields, name, expect):
    body = urlencode(fields, doseq=True)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    with client.post(path, data=body, headers=headers, name=name, catch_response=True, allow_redirects=False) as response:
        if response.status_code not in expect:
            response.failure(f"HTTP {response.status_code}")
        return response


class Contributor(FastHttpUser):
    wait_time = constant_throughput(RATE) if RATE else constant(0)

    @task(3)
    def improve(self):
        path = f"/incidents/{random.choice(SLUGS)}/improve/"
        page = self.client.get(path, name="improve: form")
        fields = [(k, v) for k, v in form_fields(page.text, "insight") if k != "insight"]
        fields.append(("insight", f"A source says more about this, {random.random()}."))
        send(self.client, path, fields, "improve: send", {302})

    @task(1)
    def report(self):
        page = self.client.get("/submit/", name="report: form")
        fields = dict(form_fields(page.text, "headline"))
        if random.random() < 0.5:  # like an incident already published: the duplicate step
            fields["headline"] = random.choice(HEADLINES)
        else:
            fields["headline"] = f"Unheard-of system {random.randrange(10**9)} misfires at a plant"
        fields["occurred"] = "2024"
        fields["narrative"] = "A system decided wrongly and people were harmed; the company apologised."
        fields["sources"] = f"https://news.example.org/{random.randrange(10**9)}"
        response = send(self.client, "/submit/", fields, "report: send", {200, 302})
        if response.status_code == 200 and 'name="duplicate_of"' in response.text:
            # The step's form carries the report again: "Mine is new", then "Send for review".
            step = {**fields, "duplicate_of": "new", "step": "send"}
            send(self.client, "/submit/", step, "report: duplicate step", {302})


class Editor(FastHttpUser):
    wait_time = constant_throughput(0.5)
    fixed_count = 2

    def on_start(self):
        page = self.client.get("/accounts/login/", name="editor: sign in")
        fields = dict(form_fields(page.text, "username"))
        fields.update(username=f"bench-editor-{id(self) % 2}", password=PASSWORD)
        send(self.client, "/accounts/login/", fields, "editor: sign in", {302})

    @task
    def approve(self):
        kind = random.choice(["improvement", "improvement", "improvement", "new"])
        queue = self.client.get(f"/moderation/?state=pending&kind={kind}", name="editor: queue")
        ids = re.findall(r'href="/moderation/(\d+)/', queue.text)
        if not ids:
            return
        for pk in random.sample(ids[:20], min(3, len(ids[:20]))):  # merge pairs have no approve form
            review = self.client.get(f"/moderation/{pk}/", name="editor: review")
            fields = form_fields(review.text, action=f"/moderation/{pk}/approve/")
            if fields:
                send(self.client, f"/moderation/{pk}/approve/", fields, "editor: approve", {302, 303})
                return


class Reader(FastHttpUser):
    wait_time = constant_throughput(5)
    fixed_count = 2

    @task
    def static(self):
        self.client.get(STATIC, name="static")

    @task
    def healthz(self):
        self.client.get("/healthz", name="healthz")
'''


def prepare(redis_url):
    import redis
    from django.contrib.auth import get_user_model

    from repository.models import Incident
    from submissions import services
    from submissions.models import Submission

    for n in (0, 1):
        name = f"bench-editor-{n}"
        if not get_user_model().objects.filter(username=name).exists():
            services.editor_create(username=name, email=f"{name}@example.org", password=EDITOR_PASSWORD)
    slugs = list(Incident.objects.unmerged().values_list("slug", flat=True)[:2000])
    headlines = list(Incident.objects.unmerged().values_list("headline", flat=True)[:500])
    pending = Submission.objects.filter(state=Submission.State.PENDING).count()
    redis.Redis.from_url(redis_url).flushdb()
    return slugs, headlines, pending


def run_locust(url, workdir, label, seconds, users, rate_per_user, env):
    prefix = workdir / label
    total = users + 4  # the contributors, two editors, two readers
    result = subprocess.run(  # noqa: S603 - our own command line
        [
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(workdir / "locustfile.py"),
            "--headless",
            "--only-summary",
            "-u",
            str(total),
            "-r",
            str(total),
            "-t",
            f"{seconds}s",
            "--host",
            url,
            "--csv",
            str(prefix),
            "--loglevel",
            "WARNING",
        ],
        env={**os.environ, **env, "BENCH_RATE_PER_USER": str(rate_per_user)},
        check=False,
        capture_output=True,
        text=True,
    )
    if not Path(f"{prefix}_stats.csv").exists():
        raise SystemExit(f"locust failed:\n{result.stderr[-2000:]}")
    with open(f"{prefix}_stats.csv") as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    sent = sum(
        int(rows[name]["Request Count"]) - int(rows[name]["Failure Count"])
        for name in ("improve: send", "report: send")
        if name in rows
    )
    print(f"\n{label}: {sent / seconds:.2f} proposals sent a second")
    print(f"  {'step':24} {'requests':>8} {'failed':>6} {'p50 ms':>7} {'p95 ms':>7}")
    for name, row in sorted(rows.items()):
        if name == "Aggregated":
            continue
        print(
            f"  {name:24} {row['Request Count']:>8} {row['Failure Count']:>6} {row['50%']:>7} {row['95%']:>7}"
        )
    return rows


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rates", default="2,10", help="proposals a second, comma-separated")
    parser.add_argument("--workers", default="2,4", help="gunicorn workers of the saturation runs")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()

    slugs, headlines, pending = prepare(args.redis)
    print(f"{len(slugs)} incidents to improve; {pending} proposals pending before the runs")
    workdir = Path(tempfile.mkdtemp(prefix="airepo-bench-contrib-"))
    static_root = workdir / "static"
    try:
        collect_static(static_root)
        manifest = json.loads((static_root / "staticfiles.json").read_text())["paths"]
        (workdir / "slugs").write_text("\n".join(slugs))
        (workdir / "headlines").write_text("\n".join(headlines))
        (workdir / "locustfile.py").write_text(LOCUSTFILE)
        locust_env = {
            "BENCH_SLUGS": str(workdir / "slugs"),
            "BENCH_HEADLINES": str(workdir / "headlines"),
            "BENCH_STATIC": "/static/" + manifest["css/site.css"],
            "BENCH_EDITOR_PASSWORD": EDITOR_PASSWORD,
        }
        site_env = {
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "REDIS_URL": args.redis,
            "CELERY_BROKER_URL": args.redis,
            "SUBMISSION_RATE_LIMIT": str(10**9),
            "LOG_LEVEL": "ERROR",
        }
        runs = []
        for rate in map(float, args.rates.split(",")):
            users = max(4, int(2 * rate))  # each sends a proposal every users/rate seconds
            runs.append((2, rate, users, rate / users))
        runs += [(int(w), None, 16, 0) for w in args.workers.split(",")]
        for workers, rate, users, per_user in runs:
            label = f"{workers} workers, " + (
                f"{rate:g} proposals a second" if rate else "saturation (16 users, no wait)"
            )
            with Site(site_env, static_root, workers=workers) as site:
                run_locust(
                    site.url,
                    workdir,
                    label.replace(" ", "_").replace(",", ""),
                    args.seconds,
                    users,
                    per_user,
                    locust_env,
                )
                print(f"  ({label})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    random.seed(1)
    main()
