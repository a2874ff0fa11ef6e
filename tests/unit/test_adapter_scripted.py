"""The scripted bot: script validation, the engine's turn-taking, and the sales script
driven through the fake call."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

import audio_fixtures
from bot_adapters.scripted import ScriptedBot, ScriptEngine, ScriptError, parse_script
from bot_adapters.scripted.engine import (
    MAX_STATE_ENTRIES,
    ClearPlayout,
    HangupCall,
    Phase,
    PlayPrompt,
    TransferCall,
)
from bot_adapters.testing import FakeCall


def yes() -> bytes:
    return audio_fixtures.load("cust_yes").pcm


async def sales_call(**options: str) -> tuple[ScriptedBot, FakeCall]:
    bot = ScriptedBot({"script": "sales", **options})
    call = FakeCall(bot)
    await call.start()
    return bot, call


def prompt_labels(call: FakeCall) -> list[str]:
    return [label.split(".")[1] for label in call.played_labels]


# -- the sales script through the fake call ------------------------------------------------


async def test_sales_lead_answers_then_goodbye_and_hangup() -> None:
    bot, call = await sales_call()
    assert prompt_labels(call) == ["greeting"]
    await call.wait_playout()  # the greeting, then the question
    assert prompt_labels(call) == ["greeting", "ask"]
    await call.say(yes(), trailing_silence_ms=300)
    assert prompt_labels(call)[-1] == "ask"  # 300 ms < end_silence_ms (400): still listening
    await call.send_silence(100)
    assert prompt_labels(call)[-1] == "goodbye"
    await call.wait_playout()
    assert [h.reason for h in call.hangups] == ["lead_answered"]
    assert call.stop_reason == "hangup"
    assert bot.engine.trace == ["greet", "ask", "goodbye"]
    assert not call.transfers


async def test_sales_two_unanswered_prompts_offer_a_human() -> None:
    _, call = await sales_call()
    await call.wait_playout()  # the greeting, then the question
    await call.send_silence(3900)
    assert prompt_labels(call)[-1] == "ask"
    await call.send_silence(100)
    assert prompt_labels(call)[-1] == "reprompt"
    await call.wait_playout()
    await call.send_silence(4000)
    assert prompt_labels(call)[-1] == "transfer"
    assert not call.transfers  # only once the customer has heard "connecting you"
    await call.wait_playout()
    assert [(t.reason, t.skills) for t in call.transfers] == [
        ("no_answer_after_reprompt", ("sales",))
    ]
    assert not call.hangups and not call.ended


async def test_sales_zero_during_prompt_stops_it_and_transfers() -> None:
    bot, call = await sales_call()
    await call.send_silence(3200)  # greeting heard (3.1 s), the question starts
    await call.send_silence(1000)  # one second into the question
    await call.press("0")
    assert len(call.clears) == 1 and call.clears[0].label is not None
    assert "ask" in call.clears[0].label
    assert prompt_labels(call)[-1] == "transfer"
    await call.wait_playout()
    assert call.transfers[0].reason == "lead_asked_for_human"
    assert bot.engine.trace == ["greet", "ask", "human"]


async def test_sales_global_zero_works_during_greeting() -> None:
    bot, call = await sales_call()
    await call.send_silence(500)
    await call.press("0")
    await call.wait_playout()
    assert call.transfers[0].reason == "lead_asked_for_human"
    assert bot.engine.trace == ["greet", "human"]


async def test_sales_invalid_key_counts_as_no_match() -> None:
    _bot, call = await sales_call()
    await call.wait_playout()  # the greeting, then the question
    await call.press("5")
    assert prompt_labels(call)[-1] == "reprompt"
    await call.wait_playout()
    await call.press("5")  # second miss: reprompts used up
    await call.wait_playout()
    assert call.transfers[0].reason == "no_answer_after_reprompt"


async def test_sales_barge_in_stops_prompt_and_moves_the_turn() -> None:
    _bot, call = await sales_call()
    await call.send_silence(3200 + 1500)  # the question is playing
    await call.say(yes(), trailing_silence_ms=400)
    # the sales script stops its prompt at VAD speech start, before the gateway's barge-in
    assert call.clears and "ask" in (call.clears[0].label or "")
    assert not any("ask" in label for label in call.finished)  # the question was cut
    assert prompt_labels(call)[-1] == "goodbye"
    await call.wait_playout()
    assert call.hangups[0].reason == "lead_answered"


async def test_sales_gateway_barge_in_without_speech_start_also_moves_turn() -> None:
    bot, call = await sales_call()
    await call.send_silence(3200 + 800)
    await call.barge_in()  # the gateway cut the prompt and told the bot
    assert bot.engine.phase is Phase.SPEAKING
    await call.send_audio(yes())
    await call.speech_end()
    await call.send_silence(400)
    assert prompt_labels(call)[-1] == "goodbye"


async def test_sales_goodbye_cut_short_still_hangs_up() -> None:
    _bot, call = await sales_call()
    await call.wait_playout()  # the greeting, then the question
    await call.say(yes(), trailing_silence_ms=400)
    await call.send_silence(300)  # goodbye playing
    await call.speech_start()
    assert call.hangups[0].reason == "lead_answered" and call.ended


async def test_speech_resuming_within_end_silence_keeps_the_callers_turn() -> None:
    _bot, call = await sales_call(end_silence_ms="600")
    await call.wait_playout()  # the greeting, then the question
    await call.say(yes(), trailing_silence_ms=500)
    await call.say(yes(), trailing_silence_ms=500)
    assert prompt_labels(call)[-1] == "ask"
    await call.send_silence(100)
    assert prompt_labels(call)[-1] == "goodbye"


def test_bad_option_is_a_script_error() -> None:
    with pytest.raises(ScriptError):
        ScriptedBot({"end_silence_ms": "soon"})
    with pytest.raises(ScriptError):
        ScriptedBot({"script": "/nonexistent/script.toml"})


# -- own scripts: prompt files, menus ---------------------------------------------------------


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)


MENU = """
[script]
start = "menu"
end_silence_ms = 0
[prompts]
menu = "menu.wav"
bye = "fixture:bot_goodbye"
[states.menu]
say = ["menu"]
dtmf = { "1" = "bye", "2" = "agent" }
on_invalid_dtmf = "menu"
[states.bye]
say = "bye"
action = "hangup"
[states.agent]
action = "transfer"
reason = "billing"
skills = ["billing", "hindi"]
"""


async def test_own_script_with_relative_wav_at_16k(tmp_path: Path) -> None:
    write_wav(tmp_path / "menu.wav", b"\x01\x00" * 16000, 16000)  # 1 s at 16 kHz
    (tmp_path / "menu.toml").write_text(MENU)
    bot = ScriptedBot({"script": str(tmp_path / "menu.toml")})
    assert len(bot.prompts["menu"]) == 16000  # resampled to 1 s at 8 kHz
    call = FakeCall(bot)
    await call.start()
    await call.press("7")  # invalid: the menu starts again
    assert bot.engine.trace == ["menu", "menu"]
    await call.press("2")
    assert call.transfers[0].skills == ("billing", "hindi")  # no prompt: transfer at once


# -- the engine on its own ----------------------------------------------------------------


def phase_of(eng: ScriptEngine) -> Phase:
    return eng.phase


def engine(text: str) -> ScriptEngine:
    return ScriptEngine(parse_script(text))


def test_engine_commands_for_a_question_and_a_silent_caller() -> None:
    eng = engine(
        """
[script]
start = "q"
[prompts]
q = "fixture:bot_ask_interest"
[states.q]
say = ["q", "q"]
no_input_ms = 1000
on_no_input = "end"
[states.end]
action = "hangup"
reason = "silent"
"""
    )
    out = eng.start(0)
    assert [type(c) for c in out] == [PlayPrompt, PlayPrompt]
    first, last = out
    assert isinstance(first, PlayPrompt) and isinstance(last, PlayPrompt)
    assert eng.heard(first.label, 100) == [] and phase_of(eng) is Phase.PLAYING
    assert eng.heard(last.label, 200) == [] and phase_of(eng) is Phase.LISTENING
    assert eng.tick(1199) == []
    assert eng.tick(1200) == [HangupCall("silent")]
    assert phase_of(eng) is Phase.DONE
    assert eng.digit("1", 1300) == [] and eng.speech_started(1300) == []


def test_engine_speech_start_while_playing_clears() -> None:
    eng = engine(
        """
[script]
start = "q"
end_silence_ms = 100
interrupt_on = "speech_start"
[prompts]
q = "fixture:bot_ask_interest"
[states.q]
say = "q"
on_speech = "t"
[states.t]
action = "transfer"
"""
    )
    (play,) = eng.start(0)
    assert eng.speech_started(50) == [ClearPlayout()]
    assert isinstance(play, PlayPrompt) and eng.heard(play.label, 60) == []  # stale mark
    assert eng.speech_ended(500) == []
    assert eng.tick(599) == []
    assert eng.tick(600) == [TransferCall("bot_transfer", ())]
    with pytest.raises(RuntimeError):
        eng.start(0)


def test_engine_default_waits_for_barge_in_and_keeps_talk_over() -> None:
    eng = engine(
        """
[script]
start = "q"
end_silence_ms = 0
[prompts]
q = "fixture:bot_ask_interest"
[states.q]
say = "q"
on_speech = "t"
[states.t]
action = "hangup"
"""
    )
    (play,) = eng.start(0)
    assert eng.speech_started(50) == []  # a cough: no barge-in from the gateway yet
    assert phase_of(eng) is Phase.PLAYING
    assert isinstance(play, PlayPrompt) and eng.heard(play.label, 90) == []
    assert phase_of(eng) is Phase.SPEAKING  # they were still talking at the prompt's end
    assert eng.speech_ended(400) == [HangupCall("bot_hangup")]


def test_engine_keys_caller_turns_and_dead_ends() -> None:
    eng = engine(
        """
[script]
start = "intro"
end_silence_ms = 0
interrupt_on = "speech_start"
[prompts]
p = "fixture:greeting"
[states.intro]
say = "p"
next = "menu"
[states.menu]
dtmf = { "1" = "quiet" }
[states.quiet]
"""
    )
    (play,) = eng.start(0)
    assert eng.digit("5", 10) == []  # no menu and no global keys here: ignored
    assert eng.speech_started(20) == [ClearPlayout()]
    assert eng.speech_ended(30) == []  # the caller's turn in a state with next: go on
    assert eng.trace == ["intro", "menu"] and phase_of(eng) is Phase.LISTENING
    assert eng.deadline_ms is None  # nothing to time out to
    assert eng.digit("7", 40) == []  # a wrong key with nowhere to go: keep listening
    assert phase_of(eng) is Phase.LISTENING
    assert eng.speech_started(50) == [] and eng.speech_ended(60) == []  # no branch: no match
    assert phase_of(eng) is Phase.LISTENING
    assert eng.digit("1", 70) == [] and eng.trace[-1] == "quiet"
    assert isinstance(play, PlayPrompt)


def test_engine_loop_is_bounded() -> None:
    eng = engine(
        """
[script]
start = "a"
[states.a]
next = "b"
[states.b]
next = "a"
"""
    )
    out = eng.start(0)
    assert out == [HangupCall("script_loop")]
    assert len(eng.trace) == MAX_STATE_ENTRIES


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[script", "not valid TOML"),
        ('[script]\nstart = "x"\n[states.a]\n', "script.start: unknown state 'x'"),
        ('[script]\nstart = "a"\n[states.a]\nsay = "p"\n', "states.a.say: unknown prompt 'p'"),
        ('[script]\nstart = "a"\n[states.a]\ndtmf = { "x" = "a" }\n', "states.a.dtmf.x"),
        ('[script]\nstart = "a"\n[states.a]\nnext = "a"\naction = "hangup"\n', "either 'next'"),
        ('[script]\nstart = "a"\n[states.a]\nvolume = 3\n', "states.a.volume: unknown key"),
        ('[script]\nstart = "a"\n[states.a]\naction = "dance"\n', "states.a.action"),
        ('[script]\nstart = "a"\n[states.a]\nreason = "x"\n', "need an action"),
        ('[script]\nstart = "a"\n[states.a]\nmax_reprompts = 2\n', "needs reprompt"),
        ('[script]\nstart = "a"\n[states.a]\nno_input_ms = -1\n', "states.a.no_input_ms"),
        ('[script]\nstart = "a"\n[dtmf]\n"0" = "b"\n[states.a]\n', "dtmf.0: unknown state"),
        ('[script]\nstart = "a"\n', "at least one state"),
        ('[script]\nstart = "a"\ninterrupt_on = "x"\n[states.a]\n', "script.interrupt_on"),
        (
            '[script]\nstart = "a"\n[states.a]\naction = "hangup"\nskills = ["x"]\n',
            "only a transfer",
        ),
        ('[script]\nstart = "a"\n[prompts]\np = 3\n[states.a]\n', "prompts.p"),
        ('[script]\nstart = "a"\n[states]\na = 1\n', "states.a: must be a table"),
        ('[script]\nstart = "a"\n[states.a]\nmax_reprompts = true\n', "max_reprompts"),
        ('[script]\nstart = "a"\n[states.a]\non_speech = "b"\n', "states.a.on_speech"),
        ('[script]\nstart = "a"\n[states.a]\ndtmf = { "1" = "b" }\n', "states.a.dtmf.1"),
        ("script = 1\n[states.a]\n", "script: must be a table"),
        ('[script]\nstart = ""\n[states.a]\n', "script.start: must be a non-empty"),
        ('[script]\nstart = "a"\n[states.a]\nsay = [1]\n', "states.a.say: must be a string"),
        ('[script]\nstart = "a"\ndtmf = 5\n[states.a]\n', "unknown key"),
        ('[script]\nstart = "a"\n[dtmf]\n"1" = 2\n[states.a]\n', "dtmf.1: must name"),
        ('dtmf = 5\n[script]\nstart = "a"\n[states.a]\n', "dtmf: must be a table"),
    ],
)
def test_script_errors_name_the_key(text: str, message: str) -> None:
    with pytest.raises(ScriptError, match=message.replace("(", r"\(")):
        parse_script(text)


def test_missing_prompt_file_is_a_script_error(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(MENU)  # menu.wav does not exist
    with pytest.raises(ScriptError, match=r"menu\.wav"):
        ScriptedBot({"script": str(tmp_path / "s.toml")})


GATEWAY_MODE = """
[script]
start = "q"
end_silence_ms = 200
[prompts]
q = "fixture:bot_ask_interest"
bye = "fixture:bot_goodbye"
[states.q]
say = "q"
on_speech = "bye"
[states.bye]
say = "bye"
action = "hangup"
"""


async def test_default_mode_leaves_barge_in_to_the_gateway(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(GATEWAY_MODE)
    bot = ScriptedBot({"script": str(tmp_path / "s.toml")})
    call = FakeCall(bot, barge_in_after_ms=200)
    await call.start()
    await call.send_silence(1000)
    await call.say(yes()[:1600], trailing_silence_ms=200)  # a 100 ms cough: no barge-in
    assert not call.barge_ins and not call.clears and bot.engine.phase is Phase.PLAYING
    await call.send_silence(1000)
    await call.say(yes(), trailing_silence_ms=200)  # real speech: the gateway barges in
    assert len(call.barge_ins) == 1 and not call.clears  # the bot left it to the gateway
    assert prompt_labels(call) == ["q", "bye"]


async def test_cough_then_silence_lets_the_prompt_finish(tmp_path: Path) -> None:
    (tmp_path / "s.toml").write_text(GATEWAY_MODE)
    bot = ScriptedBot({"script": str(tmp_path / "s.toml")})
    call = FakeCall(bot, barge_in_after_ms=200)
    await call.start()
    await call.say(yes()[:1600])
    await call.wait_playout()
    assert call.finished == [bot.played[0]] and phase_of(bot.engine) is Phase.LISTENING
