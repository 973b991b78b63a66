"""The explainer's core: models, data, training, storage and figures. No streamlit here (a test enforces it)."""
