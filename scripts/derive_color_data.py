"""Development-time tool: derive core/data/xkcd_color_families.csv from the XKCD colour survey's 949 named colours.

matplotlib ships the XKCD table as matplotlib.colors.XKCD_COLORS (CC0). Run: python scripts/derive_color_data.py
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

from matplotlib.colors import XKCD_COLORS  # dev-time only; the app reads the committed CSV

FAMILIES = ("red", "green", "blue", "orange", "yellow", "pink", "purple", "brown", "grey")
# Last words that name a family under another word. Anything else (teal, aqua, cyan, turquoise, coral, peach,
# beige, cream, ...) sits between families and is dropped.
SYNONYMS = {
    "gray": "grey",
    "black": "grey",
    "white": "grey",
    "gunmetal": "grey",
    "stone": "grey",
    "cement": "grey",
    "maroon": "red",
    "burgundy": "red",
    "wine": "red",
    "blood": "red",
    "carmine": "red",
    "cherry": "red",
    "ruby": "red",
    "claret": "red",
    "merlot": "red",
    "tomato": "red",
    "crimson": "red",
    "scarlet": "red",
    "orangish": "orange",
    "orangeish": "orange",
    "mango": "orange",
    "pumpkin": "orange",
    "tangerine": "orange",
    "gold": "yellow",
    "golden": "yellow",
    "mustard": "yellow",
    "canary": "yellow",
    "butter": "yellow",
    "sunflower": "yellow",
    "banana": "yellow",
    "dandelion": "yellow",
    "lemon": "yellow",
    "maize": "yellow",
    "lime": "green",
    "olive": "green",
    "sage": "green",
    "mint": "green",
    "fern": "green",
    "shamrock": "green",
    "kiwi": "green",
    "pea": "green",
    "spearmint": "green",
    "asparagus": "green",
    "leaf": "green",
    "moss": "green",
    "darkgreen": "green",
    "lightgreen": "green",
    "wintergreen": "green",
    "celery": "green",
    "algae": "green",
    "navy": "blue",
    "azul": "blue",
    "sapphire": "blue",
    "darkblue": "blue",
    "lightblue": "blue",
    "cobalt": "blue",
    "denim": "blue",
    "cornflower": "blue",
    "blueberry": "blue",
    "rose": "pink",
    "magenta": "pink",
    "fuchsia": "pink",
    "bubblegum": "pink",
    "pinky": "pink",
    "rosa": "pink",
    "carnation": "pink",
    "lipstick": "pink",
    "violet": "purple",
    "lavender": "purple",
    "lavendar": "purple",
    "lilac": "purple",
    "liliac": "purple",
    "mauve": "purple",
    "plum": "purple",
    "indigo": "purple",
    "eggplant": "purple",
    "purply": "purple",
    "purpley": "purple",
    "amethyst": "purple",
    "heliotrope": "purple",
    "wisteria": "purple",
    "urple": "purple",
    "tan": "brown",
    "umber": "brown",
    "sienna": "brown",
    "siena": "brown",
    "chocolate": "brown",
    "taupe": "brown",
    "toupe": "brown",
    "chestnut": "brown",
    "auburn": "brown",
    "cinnamon": "brown",
    "cocoa": "brown",
    "caramel": "brown",
    "sepia": "brown",
    "ochre": "brown",
    "ocher": "brown",
    "ocre": "brown",
    "poo": "brown",
    "poop": "brown",
    "leather": "brown",
    "earth": "brown",
    "camel": "brown",
    "khaki": "brown",
}


def family_of(name: str) -> str | None:
    last = name.split()[-1]
    if last in FAMILIES:
        return last
    return SYNONYMS.get(last)


def main() -> None:
    out = Path(__file__).resolve().parent.parent / "core" / "data" / "xkcd_color_families.csv"
    rows, dropped = [], Counter()
    for key, hex_value in sorted(XKCD_COLORS.items()):
        name = key.removeprefix("xkcd:")
        family = family_of(name)
        if family is None:
            dropped[name.split()[-1]] += 1
            continue
        h = hex_value.lstrip("#")
        rows.append((name, int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), family))
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["name", "r", "g", "b", "family"])
        writer.writerows(rows)
    counts = Counter(r[4] for r in rows)
    print(
        json.dumps(
            {
                "total": len(XKCD_COLORS),
                "kept": len(rows),
                "dropped": sum(dropped.values()),
                "per_family": dict(sorted(counts.items())),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
