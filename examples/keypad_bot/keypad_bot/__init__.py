"""An example voxgate bot adapter in its own package (see docs/adapters.md)."""

from keypad_bot.adapter import KeypadBot

__all__ = ["KeypadBot"]
