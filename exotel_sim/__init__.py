"""A faithful Exotel emulator: REST API, event delivery, streams, bridges and a simulated world."""
