"""The report: a self-contained HTML feature atlas of the pipeline's results and its figures."""
