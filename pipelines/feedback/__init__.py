"""The feedback log as a build input: events -> votes (asset ``feedback_log``) -> priors baked
into the snapshot (``priors.compute_priors``, called by the build)."""
