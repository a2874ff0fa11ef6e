"""exotel_sim.config: TOML + seed -> frozen SimConfig, script steps, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from exotel_sim.config import (
    AgentProfile,
    CustomerProfile,
    ScriptStep,
    SimConfig,
    SimConfigError,
    parse_script,
)

TOML = """
seed = 11
tls_verify = false
[account]
sid = "ACtest"
key = "k"
token = "t"
[latency]
rest_ms = 0
event_ms = 5
[limits]
rate_per_s = 10
burst = 3
channels = 7
stream_throttle = 2
[delivery]
attempts = 2
duplicate_probability = 0.5
reorder = true
[customers.default]
answer_probability = 0.5
ring_ms = [100, 200]
script = ["pause 300", "say cust_yes", "hangup"]
[customers."+911111111111"]
outcome = "busy"
[customers."+912222222222"]
scripts = [
  ["say cust_no"],
  [{do = "dtmf", digit = "5"}, {do = "barge", ms = 800, clip = "cust_human"}],
]
hold_patience_ms = 4000
[agents."+913333333333"]
answer_ms = 900
talk_ms = 5000
"""


def test_defaults_need_no_file() -> None:
    config = SimConfig()
    assert (config.account_sid, config.rest_latency_ms, config.event_latency_ms) == (
        "ACsim", 40, 20)
    assert config.customer("+910000000000") is config.default_customer


def test_toml_round_trip_of_every_section() -> None:
    config = SimConfig.from_toml(TOML)
    assert config.seed == 11 and config.tls_verify is False
    assert (config.account_sid, config.api_key, config.api_token) == ("ACtest", "k", "t")
    assert (config.rest_latency_ms, config.event_latency_ms) == (0, 5)
    assert (config.rate_limit_per_s, config.rate_burst, config.channel_limit) == (10.0, 3, 7)
    assert config.stream_throttle == 2
    assert (config.delivery_attempts, config.duplicate_probability, config.reorder) == (
        2, 0.5, True)
    default = config.default_customer
    assert default.answer_probability == 0.5 and default.ring_ms == (100, 200)
    assert default.scripts == (parse_script(["pause 300", "say cust_yes", "hangup"]),)
    busy = config.customer("+911111111111")
    assert busy.outcome == "busy"
    assert busy.ring_ms == (100, 200)  # inherits the file's default profile
    two = config.customer("+912222222222")
    assert len(two.scripts) == 2
    assert two.scripts[1] == (ScriptStep("dtmf", digit="5"),
                              ScriptStep("barge", ms=800, clip="cust_human"))
    assert two.hold_patience_ms == 4000
    assert config.agents["+913333333333"] == AgentProfile(answer_ms=900, talk_ms=5000)


def test_seed_argument_overrides_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(TOML)
    assert SimConfig.from_file(path).seed == 11
    assert SimConfig.from_file(path, seed=3).seed == 3


def test_config_is_frozen() -> None:
    config = SimConfig.from_toml(TOML)
    with pytest.raises(AttributeError):
        config.seed = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        config.customers["x"] = CustomerProfile()  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("sedd = 1", "sedd"),
        ("[latency]\nrest_ms = 'fast'", "rest_ms"),
        ("[customers.default]\nanswer_probability = 2.0", "answer_probability"),
        ("[customers.default]\nscript = ['sing loudly']", "unknown kind"),
        ("[customers.default]\nscript = ['dtmf x']", "bad digit"),
        ("[customers.default]\nring_ms = [5, 1]", "ring_ms"),
        ("[agents.'+91']\nanswer_ms = -1", "answer_ms"),
        ("[limits]\nchannels = 0", "channel_limit"),
        ("[account]\nexophones = '+918047112233'", "account.exophones"),
        ("[account]\nexophones = ['ExoPhone']", "account.exophones"),
        ("not toml [", "TOML"),
        ("[delivery]\nlost_events = 'leg_terminated'", "delivery.lost_events"),
    ],
)
def test_bad_config_names_the_key(text: str, needle: str) -> None:
    with pytest.raises(SimConfigError, match=needle):
        SimConfig.from_toml(text)


@pytest.mark.parametrize(
    ("spec", "step"),
    [
        ("pause 600", ScriptStep("pause", ms=600)),
        ("say cust_yes", ScriptStep("say", clip="cust_yes")),
        ("barge 800 cust_no", ScriptStep("barge", ms=800, clip="cust_no")),
        ("dtmf #", ScriptStep("dtmf", digit="#")),
        ("wait 1000", ScriptStep("wait", ms=1000)),
        ("streaming 200", ScriptStep("streaming", ms=200)),
        ("hangup", ScriptStep("hangup")),
        ({"do": "say", "clip": "cust_human"}, ScriptStep("say", clip="cust_human")),
    ],
)
def test_script_step_forms(spec: str | dict[str, str], step: ScriptStep) -> None:
    assert ScriptStep.parse(spec) == step
    assert ScriptStep.parse(step.spec()) == step


def test_with_script_builds_one_script_in_code() -> None:
    profile = CustomerProfile(outcome="answer").with_script("say cust_yes", "hangup")
    assert profile.scripts == ((ScriptStep("say", clip="cust_yes"), ScriptStep("hangup")),)


def test_with_agents_adds_default_agents_and_keeps_the_worlds_own() -> None:
    own = AgentProfile(answer_ms=5000)
    world = SimConfig(agents={"+919800000001": own})
    both = world.with_agents(["+919800000001", "+919800000002"])
    assert both.agents == {"+919800000001": own, "+919800000002": AgentProfile()}
    assert world.with_agents(["+919800000001"]) is world  # nothing to add


def test_lost_events_names_events_always_lost() -> None:
    config = SimConfig.from_toml("[delivery]\nlost_events = ['leg_terminated']")
    assert config.lost_events == frozenset({"leg_terminated"})
    assert SimConfig().lost_events == frozenset()
