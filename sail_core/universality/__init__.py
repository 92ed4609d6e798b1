"""Which features are real: seed stability of SAE features and their alignment across encoders."""
