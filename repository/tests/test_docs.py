"""The documentation a newcomer reads: a short README, guides whose links all lead somewhere,
and every setting the code reads described in a guide."""

import re
from pathlib import Path

from django.conf import settings
from django.test import SimpleTestCase

BASE = Path(settings.BASE_DIR)
README_MAX_BYTES = 12 * 1024

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6} +(.+?) *$", re.MULTILINE)


def documents():
    return [BASE / "README.md", *sorted((BASE / "docs").glob("*.md"))]


def prose(path):
    """The file's text without its fenced code blocks (whose brackets are not links)."""
    return FENCE.sub("", path.read_text())


def anchor(heading):
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.replace("`", "").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    return {anchor(heading) for heading in HEADING.findall(prose(path))}


class ReadmeTests(SimpleTestCase):
    def test_the_readme_is_a_front_door_under_12_kb(self):
        size = (BASE / "README.md").stat().st_size
        self.assertLess(size, README_MAX_BYTES, f"README.md is {size} bytes: move details into docs/")

    def test_the_readme_keeps_the_two_commands_and_the_real_data(self):
        readme = (BASE / "README.md").read_text()
        for command in ("make run", "make test", "make real-data"):
            self.assertIn(command, readme)

    def test_the_readme_and_the_index_link_every_guide(self):
        guides = {path.name for path in (BASE / "docs").glob("*.md")} - {"README.md"}
        self.assertTrue(guides)
        for index in ("README.md", "docs/README.md"):
            targets = {Path(target.split("#")[0]).name for target in LINK.findall(prose(BASE / index))}
            with self.subTest(index=index):
                self.assertEqual(guides - targets, set(), f"{index} does not link these guides")


class LinkTests(SimpleTestCase):
    def test_every_relative_link_leads_to_a_file_and_heading_that_exist(self):
        broken = []
        for document in documents():
            for target in LINK.findall(prose(document)):
                if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
                    continue
                path, _, fragment = target.partition("#")
                file = (document.parent / path).resolve() if path else document
                where = f"{document.relative_to(BASE)}: {target}"
                if not file.exists():
                    broken.append(f"{where} (no such file)")
                elif fragment and file.suffix == ".md" and fragment not in anchors(file):
                    broken.append(f"{where} (no such heading)")
        self.assertEqual(broken, [])

    def test_the_checker_sees_a_broken_link(self):
        self.assertEqual(LINK.findall("See [a](missing.md#x) and ![img](pic.png)"), ["missing.md#x"])
        self.assertEqual(
            anchor("Throughput of pages: `scripts/benchmark_http.py`"),
            "throughput-of-pages-scriptsbenchmark_httppy",
        )
        self.assertIn("reliability-and-security", anchors(BASE / "docs" / "operating.md"))


class SettingsDocumentedTests(SimpleTestCase):
    def test_every_environment_variable_the_settings_read_is_in_the_configuration_table(self):
        source = (BASE / "config" / "settings.py").read_text()
        variables = set(re.findall(r"\benv_\w+\(\s*\"([A-Z][A-Z0-9_]+)\"", source))
        self.assertIn("DATABASE_URL", variables)  # the pattern still finds what settings.py reads
        table = configuration_table()
        missing = sorted(name for name in variables if f"`{name}`" not in table)
        self.assertEqual(
            missing, [], "read by config/settings.py but not in docs/operating.md's Configuration"
        )


def configuration_table():
    """The rows of the Configuration section's table in docs/operating.md."""
    text = (BASE / "docs" / "operating.md").read_text()
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `"))
