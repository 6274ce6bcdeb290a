"""Model packs: manifests (models/*.yaml), the local cache, fetching, verifying and building weights."""
