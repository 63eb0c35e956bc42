"""The importers: every way incidents come into the repository from a file.

- `sheet`: the AIAAIC sheet export (any layout since 2023) and this site's CSV snapshots;
- `aiid`: the AI Incident Database's public snapshot (a directory of CSV files);
- `pages`: incident pages in the plain-text page format;
- `dataset`: this site's JSON dataset snapshot, restored;
- `reports`: what an import found (warnings and notes), shared by them all;
- `common`: what the importers share.

Each publishes through `repository.services` only; nothing in the published record imports
the importers (the snapshot writer shares the sheet's column names through
`repository.sheetformat`).
"""
