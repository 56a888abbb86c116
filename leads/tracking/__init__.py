"""Website tracking: the Segment-compatible endpoint's protocol and
ingestion, stitching anonymous visitors to leads, tracking sources and event
mappings (services, selectors), signed e-mail-link tokens, retention."""
