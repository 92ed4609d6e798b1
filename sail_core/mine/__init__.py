"""Feature mining over SAE codes: statistics, top slices per scan, diverse samples, enrichment,
PNG panels."""
