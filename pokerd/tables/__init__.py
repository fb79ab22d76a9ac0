"""The table shell: each table as a supervised actor, its fan-out and viewers."""
