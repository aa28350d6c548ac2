"""`ledger report --html DIR`: what a reviewer looks at instead of JSON. `data.collect()` gathers
it once (verified promotions only feed the numbers); each format is one module rendering that
data (html.py: one self-contained page, charts as inline SVG, no network)."""
