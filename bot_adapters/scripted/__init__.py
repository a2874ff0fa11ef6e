"""The scripted bot: a conversation in a TOML file (``script``), a sans-I/O engine
(``engine``) and the ``scripted`` adapter that runs it on a call (``adapter``)."""

from bot_adapters.scripted.adapter import ScriptedBot
from bot_adapters.scripted.engine import ScriptEngine
from bot_adapters.scripted.script import Script, ScriptError, load_script, parse_script

__all__ = ["Script", "ScriptEngine", "ScriptError", "ScriptedBot", "load_script", "parse_script"]
