"""The control plane: Exotel client, event intake, call flows, agents, campaigns, records."""
