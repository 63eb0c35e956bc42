"""The submissions app's pages, one module per audience: `contribute` (the public's improve,
report and status pages), `queue` (the editors' queue and review page), `actions` (the POST
transitions an editor makes on one proposal), `taxonomy` (the taxonomy desk) and `accounts`
(sign-in, password reset, an editor's settings). Shared request helpers live in `common`."""
