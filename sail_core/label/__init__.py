"""Feature labelling: evidence per feature, labellers (offline, Anthropic), cache, evaluation."""
