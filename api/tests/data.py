"""Incidents for the API tests: varied enough that every filter and sort has ties, blanks
and hierarchy to get wrong, published through the one publishing service."""

from repository.tests.base import publish

COUNTRIES = ["USA", "UK", "China"]
SECTORS = ["Govt - police", "Govt - welfare", "Banking/financial services", "Transport/logistics"]
TECHNOLOGIES = ["Facial recognition", "Machine learning", "Chatbot"]
TYPES = ["incident", "issue", "system", ""]
# Repeats on purpose: incidents share a start date (ties), and some have none (NULL).
OCCURRED = ["2021", "2021-02", "", "2019/2024", "2023/..", "2020-05-04", "2021", ""]
DEPLOYERS = ["Acme Police", "Globex Bank", "Initech Transit"]


def build(count, start=0):
    """Publish `count` incidents (numbered from `start`); return them."""
    incidents = []
    for index in range(start, start + count):
        incidents.append(
            publish(
                f"{'Camera' if index % 3 == 0 else 'Algorithm'} case number {index} harms people",
                slug=f"case-{index}",
                type=TYPES[index % len(TYPES)],
                occurred=OCCURRED[index % len(OCCURRED)],
                summary=f"What happened in case {index}.",
                external_id=f"AIAAIC{index + 1:04d}",
                terms={
                    "country": [COUNTRIES[index % 3]] + (["UK"] if index % 4 == 0 and index % 3 != 1 else []),
                    "sector": [SECTORS[index % len(SECTORS)]],
                    "technology": [TECHNOLOGIES[index % 3]],
                },
                entities={
                    "deployer": [DEPLOYERS[index % 3]],
                    "developer": ["Lens Corp"] if index % 2 else [],
                },
                references={
                    "news": [{"url": f"https://news.example.org/{index}", "title": f"Report {index}"}]
                },
            )
        )
    return incidents
