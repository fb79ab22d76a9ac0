"""pokerd: a real-time, event-sourced No-Limit Hold'em table server."""
