# Two commands on a fresh machine:  `make demo` (the main job) and `make test` (all tests).
# Each creates .venv and installs what it needs by itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Python caches our compiled modules even where the machine says not to (PYTHONDONTWRITEBYTECODE):
# the suite starts hundreds of Python processes, and each would compile every module it imports
# again (collecting the tests alone cost each pytest worker 12 s instead of 3).
unexport PYTHONDONTWRITEBYTECODE
# Example adapter packages installed beside voxgate (the plug-in kit's examples).
EXAMPLES := $(foreach d,$(wildcard examples/*/pyproject.toml),-e $(dir $(d)))
# Pure cores checked with mypy --strict (only those that exist).
STRICT := $(wildcard gateway/protocol.py gateway/frames.py gateway/batching.py gateway/media_format.py gateway/audio.py gateway/chunker.py gateway/playout.py gateway/session.py gateway/vad.py gateway/tones.py gateway/errors.py gateway/config.py gateway/metrics.py bot_adapters/registry.py bot_adapters/echo.py dialer/flows dialer/progress.py dialer/pacing dialer/campaign/model.py dialer/campaign/values.py dialer/campaign/leads_csv.py dialer/campaign/compliance.py dialer/campaign/retry.py dialer/campaign/store dialer/db dialer/campaign/outcomes.py dialer/campaign/live_calls.py dialer/campaign/warm_start.py dialer/campaign/progress.py dialer/campaign/inputs.py dialer/campaign/check.py dialer/campaign/metrics.py dialer/timefmt.py dialer/event_endpoint.py dialer/signals.py dialer/stream_params.py dialer/call_binding.py dialer/ports.py dialer/stats.py dialer/call_request.py dialer/call_setup.py dialer/csv_safe.py dialer/private_files.py dialer/live_state.py dialer/campaign/zones.py dialer/leads dialer/campaign/lead_updates.py dialer/campaign/lead_model.py dialer/campaign/service_runs.py dialer/campaign/skills.py dialer/events.py dialer/sequencer.py dialer/leg_hold.py dialer/uncertain.py dialer/agents.py dialer/errors.py bot_adapters/contract.py gateway/control.py gateway/control_routes.py voxgate_shared/control.py voxgate_shared/prom.py voxgate_shared/redact.py voxgate_shared/net.py bot_adapters/scripted/engine.py bot_adapters/scripted/script.py bot_adapters/relay/dialects.py bot_adapters/metrics.py bot_adapters/audio.py bot_adapters/testing.py exotel_sim/config.py exotel_sim/legs.py exotel_sim/errors.py exotel_sim/requests.py exotel_sim/events.py exotel_sim/timeline.py exotel_sim/streamproto.py exotel_sim/audio.py exotel_sim/stats.py dialer/reports/model.py dialer/reports/campaign.py dialer/reports/agents.py dialer/reports/render.py dialer/reports/html.py dialer/reports/exports.py dialer/web/snapshot.py dialer/web/sessions.py dialer/web/calls_view.py dialer/web/calls_query.py)
# The gateway's hot path, compiled in place with mypyc (same source; see gateway/__init__.py).
# Without a C compiler the build is skipped and the gateway runs as pure Python.
FASTSTAMP := build/.compiled

.PHONY: demo test test-suite browser test-pure lint lint-ruff lint-strict lint-types lint-tests typecheck unit install fixtures proto bench clean fast pure

$(STAMP): pyproject.toml $(wildcard examples/*/pyproject.toml)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]' $(EXAMPLES)
	touch $(STAMP)

$(FASTSTAMP): $(STAMP) $(wildcard gateway/*.py) tools/compile_core.py
	mkdir -p build
	$(BIN)/python tools/compile_core.py > build/mypyc.log 2>&1 \
	  || (rm -f gateway/*.so; echo "mypyc failed (build/mypyc.log): the gateway runs as pure Python")
	touch $(FASTSTAMP)

fast: $(FASTSTAMP)

pure:
	rm -f gateway/*.so $(FASTSTAMP)

install: $(STAMP) $(FASTSTAMP)

demo: install
	$(BIN)/voxgate demo

# The lint steps run side by side, each mypy run with a cache of its own (the strict and the plain
# runs would otherwise throw each other's cache away); they read only the source, not the build.
LINT := lint-ruff lint-strict lint-types lint-tests

lint: $(STAMP)
	$(MAKE) --no-print-directory -j4 --output-sync=target $(LINT)

lint-ruff:
	$(NICE) $(BIN)/ruff check .

lint-strict:
	$(NICE) $(BIN)/mypy --cache-dir .mypy_cache/strict --strict $(STRICT)

lint-types:
	$(NICE) $(BIN)/mypy --cache-dir .mypy_cache/types gateway bot_adapters dialer exotel_sim voxgate voxgate_shared audio_fixtures protos/generate.py

lint-tests:
	$(NICE) $(BIN)/mypy --cache-dir .mypy_cache/tests tests bench examples tools

# The suite mostly waits on sockets and real-time timers (emulated rings, hold audio, child
# processes), so pytest-xdist runs more workers than cores; `make test TEST_JOBS=0` runs it serially.
TEST_JOBS ?= 8
# One test at a time to each worker, slowest first (tests/conftest.py orders them by their
# slow(seconds) marks): the long tests overlap, and the short ones fill the gaps between them.
XDIST := -n $(TEST_JOBS) --dist load --maxschedchunk 1

# Debian's chromium for tests/browser (Playwright drives it; no browser is ever downloaded):
# installed with apt-get when missing and we are root; otherwise those tests skip, saying why.
browser:
	@test -x /usr/bin/chromium || [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      chromium >/dev/null) || echo "chromium not installed: the browser tests will skip"

# Everything at once: the lint steps, the gateway's tests on the plain-Python source and the
# compiled core's build; the suite starts once the core is built. The suite waits on sockets and
# timers much of the time, and the others fill the cores meanwhile; the lint steps run niced
# (no timing in them), so that the core's build, which the suite waits for, and the tests go
# first. Each part's output is shown whole when it ends.
test: $(STAMP) browser
	$(MAKE) --no-print-directory -j7 --output-sync=target $(LINT) test-pure test-suite \
	  NICE="nice -n 10"

test-suite: $(FASTSTAMP)
	$(BIN)/pytest -q $(XDIST)

# The gateway's tests once more on the plain-Python source (what runs where no compiled core is
# built), from a copy of the tree without the binaries.
PURE_JOBS ?= 3
test-pure: $(STAMP)
	rm -rf build/pure && mkdir -p build/pure
	git ls-files -z | xargs -0 cp --parents -t build/pure
	cd build/pure && VOXGATE_EXPECT_CORE="pure Python" ../../$(BIN)/python -m pytest -q \
	  -n $(PURE_JOBS) -p no:cacheprovider \
	  tests/unit/test_compiled_core.py tests/unit/test_gateway_*.py tests/integration/test_gateway_*.py

unit: install
	$(BIN)/pytest -q $(XDIST) tests/unit

fixtures:
	command -v espeak-ng >/dev/null && command -v sox >/dev/null || (apt-get update -qq && apt-get install -y -qq espeak-ng sox)
	bash audio_fixtures/make_fixtures.sh

proto: $(STAMP)
	$(BIN)/python protos/generate.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build gateway/*.so
