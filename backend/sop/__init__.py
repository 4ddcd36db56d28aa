"""SOP broadcasts: timed message sequences to friends, groups and tags, delivered once and paced."""
