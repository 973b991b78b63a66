"""Streamlit-side helpers shared by the pages (kept out of pages/ so they are not pages themselves)."""
