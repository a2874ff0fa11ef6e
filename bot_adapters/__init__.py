"""Bot adapters: the contract bots implement, the registry and the built-in adapters."""
