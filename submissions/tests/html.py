"""A page's elements as (tag, attributes), to check ids, ARIA attributes and the title."""

from html.parser import HTMLParser


class Page(HTMLParser):
    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.elements = []
        self.title = ""
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, {name: value or "" for name, value in attrs}))
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data

    def ids(self):
        return {attrs["id"] for _, attrs in self.elements if "id" in attrs}

    def find(self, **wanted):
        """Elements whose attributes have these values (`class_` for class, `aria_x` for aria-x)."""
        wanted = {name.rstrip("_").replace("_", "-"): value for name, value in wanted.items()}
        return [
            (tag, attrs)
            for tag, attrs in self.elements
            if all(attrs.get(name) == value for name, value in wanted.items())
        ]

    def dangling_describedby(self):
        """aria-describedby ids that name no element on the page."""
        ids = self.ids()
        return [
            (attrs.get("name") or attrs.get("id"), target)
            for _, attrs in self.elements
            for target in attrs.get("aria-describedby", "").split()
            if target not in ids
        ]
