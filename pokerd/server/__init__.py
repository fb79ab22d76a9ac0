"""The live server: the HTTP API on Quart-Trio, over the supervised tables."""

from pokerd.server.app import create_app
from pokerd.server.service import PokerService, ServiceError

__all__ = ["PokerService", "ServiceError", "create_app"]
