"""Shared plotly figure builders (data in, go.Figure out); a family's own figures live in its package."""
