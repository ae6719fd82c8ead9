"""Visible checks and hidden grading functions used by the notebooks' test cells."""
