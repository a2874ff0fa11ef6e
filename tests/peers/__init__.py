"""Test peers: small stand-ins for the far end of our sockets (tests and bench only)."""
