"""Articles written for these tests (nothing here comes from ../shared)."""

from __future__ import annotations

from pathlib import Path

GLASSWORKS_ID = "quillmoor-glassworks.txt"
GLASSWORKS_QUERY = "Quillmoor glassworks furnace reopening"
GLASSWORKS = """The Quillmoor glassworks reopens its furnace

By Imogen Tarrant

The Quillmoor glassworks relit its main furnace on Monday after eleven years of
silence, and the first batch of cobalt bottles left the annealing line by noon.
The cooperative that bought the works hired forty glassblowers from the valley.

Its chair, Oskar Lindqvist, said the furnace burns hydrogen made by the town's
new electrolyser, so the glass carries almost no carbon cost. Orders from three
breweries and a perfume house already fill the first season's production plan.
"""

LANTERN_ID = "vellmark-lantern-fair.txt"
LANTERN_QUERY = "Vellmark paper lantern fair on the river"
LANTERN = """Vellmark's paper lantern fair returns to the river

The Vellmark lantern fair floated nine thousand paper lanterns down the Ossel river
on Saturday night, the largest release since the fair began in 1921. Volunteers
fished every lantern out at the weir below the old mill, as the town promised
the river authority, and the paper went to the municipal compost site.
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
