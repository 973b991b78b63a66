"""Placeholder until the page lands (see its issue)."""

import streamlit as st

st.title("Coming soon")
