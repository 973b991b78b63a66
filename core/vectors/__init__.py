"""Vector search: fine-tune a linear head by querying a vector database with the head's own weights."""
