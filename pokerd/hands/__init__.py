"""Hands as records and texts: the hand history, PHH in and out, story lines."""
