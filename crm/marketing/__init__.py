"""The marketer's figures: the funnel (and, as they come, campaigns and plans)."""
