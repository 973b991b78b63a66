"""The shapes family's Vector search pool: generated drawings plus the user's own, embedded by the CNN's dense_hidden
layer."""

from __future__ import annotations

import numpy as np

from core.families.shapes import generator as shape_generator
from core.families.shapes import model as shapes
from core.inputs import canvas
from core.vectors import search
from core.vectors.experiment import Concept, label_mask


def drawing_pool(model, per_class: int = search.DRAWINGS_PER_CLASS, seed: int = 0, user_drawings=None) -> search.Pool:
    """Generated drawings (per_class of each shape class) plus the user's own, embedded by the shapes CNN's
    `dense_hidden` layer. `user_drawings` is a list of (image 28x28, label)."""
    images, labels = shape_generator.generate_shapes(per_class, seed) if per_class > 0 else (np.zeros((0, 28, 28)), [])
    items = [{"label": shape_generator.CLASS_NAMES[int(c)], "source": "generated"} for c in labels]
    raw = [np.asarray(images, dtype=np.uint8).reshape(-1, canvas.IMAGE_SIZE, canvas.IMAGE_SIZE)]
    for image, label in user_drawings or []:
        raw.append(np.asarray(image, dtype=np.uint8).reshape(1, canvas.IMAGE_SIZE, canvas.IMAGE_SIZE))
        items.append({"label": str(label), "source": "yours"})
    all_images = np.concatenate(raw)  # (N, 28, 28)
    if len(all_images) == 0:
        raise search.VectorStoreError("The drawings pool is empty: there is nothing to index or search.")
    embeddings = shapes.embed_drawings(model, all_images)  # (N, dense_units)
    for i, item in enumerate(items):
        item["index"] = i
    return search.make_pool("drawings", embeddings, items, all_images, "shapes CNN, layer dense_hidden")


def pool_size_for(size: int | None) -> int:
    """Drawings per class for a pool of about `size` drawings in all (the CLI's --size)."""
    return search.DRAWINGS_PER_CLASS if size is None else max(1, size // len(shape_generator.CLASS_NAMES))


def concepts() -> dict[str, Concept]:
    """What the vector-search experiment can look for among drawings."""
    return {
        "circle": Concept("drawings generated (or labelled) as circles", label_mask("circle")),
        "pointy": Concept(
            "stars, triangles and zigzags: shapes with sharp corners", label_mask("star", "triangle", "zigzag")
        ),
    }
