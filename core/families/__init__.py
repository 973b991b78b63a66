"""One package per model family (colors, shapes, text, teach), each registered with core.engine.registry in its\nfamily.py; a family never imports another family."""
