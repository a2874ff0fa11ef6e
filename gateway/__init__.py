"""The media plane: Exotel stream WebSocket server, audio pipeline and sessions."""
