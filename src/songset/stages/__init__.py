"""Per-stage orchestration modules (the DVC entry points in stages/ call these)."""
