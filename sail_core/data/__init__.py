"""Datasets, phantom generation, slicing, slice store, index and split."""
