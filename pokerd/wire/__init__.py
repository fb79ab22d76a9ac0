"""The wire: protocol messages and codes, the converter, batches as JSON text,
WebSocket frames."""
