"""Inputs shared by several families: the drawing canvas -> 28x28."""
