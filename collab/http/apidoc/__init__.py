"""The machine-readable contract: OpenAPI 3.1 built from the router, and AsyncAPI for Socket.IO."""
