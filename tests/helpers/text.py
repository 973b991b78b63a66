"""A tiny corpus for the text family's tests: four lines of Hamlet, four times."""

from __future__ import annotations

CORPUS = (
    "To be, or not to be, that is the question:\n"
    "Whether 'tis nobler in the mind to suffer\n"
    "The slings and arrows of outrageous fortune,\n"
    "Or to take arms against a sea of troubles\n"
) * 4
