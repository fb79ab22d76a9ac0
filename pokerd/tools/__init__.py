"""Tools over pokerd: the log replay, the terminal demo, self-play and bots."""
