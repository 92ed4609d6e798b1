"""Embedding stage: slices -> one vector per slice, per encoder, aligned to the slice index.

- `registry.build_encoder(name, spec)` -> `encoder.Encoder` for every kind (hf, random_init,
  efficientnet_lite0, biomedparse);
- `shards.assign_shards` groups scans into shards; `run.embed_job` / `run.embed_shard` embed one;
- `store.open_embeddings` / `store.load_embeddings` read all shards of an encoder back.

Nothing is imported here, so that the workflow and the light modules (shards, store) load
without torch.
"""
