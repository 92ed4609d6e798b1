"""Evaluation of SAE features: linear probes, performance recovery, monosemanticity, structure
detection, configuration ranking, fingerprint retrieval and the headline summary."""
