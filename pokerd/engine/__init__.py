"""The pure table engine: commands, events, decide, evolve and views."""
