"""The live server: the HTTP API (Quart-Trio) and the WebSocket live stream."""

from pokerd.server.app import create_app
from pokerd.server.service import PokerService, ServiceError

__all__ = ["PokerService", "ServiceError", "create_app"]
