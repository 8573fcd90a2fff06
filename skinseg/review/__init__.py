"""``skinseg review``: one self-contained HTML page to look at every image of an evaluation.

Each image is shown with its truth and prediction outlined in two colour-blind-safe colours,
beside its scores; the page sorts, filters and opens full-size overlays with no server and no
internet (its script and styles are inline, its pictures in a folder beside it).
"""

from skinseg.review.page import write_comparison, write_review
from skinseg.review.sources import Entry, find_tables, read_entries

__all__ = ["write_comparison", "Entry", "find_tables", "read_entries", "write_review"]
