"""Zero-shot language-driven retrieval of slices through labelled sparse features."""
