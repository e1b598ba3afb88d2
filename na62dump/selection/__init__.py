"""Vectorised selection building blocks over awkward arrays (one idea per module)."""
