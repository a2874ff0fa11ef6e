"""The dialer's counters (:class:`DialerStats`), shared by the service, its runners and keepers
and read by :mod:`dialer.metrics`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class DialerStats:
    placed: int = 0
    finished: int = 0
    unknown_events: int = 0
    inbox_overflow: int = 0
    api_failures: int = 0
    create_uncertain: int = 0
    # what became of creates that timed out: adopted, hung_up (ambiguous or too late), lost
    create_uncertain_outcomes: dict[str, int] = field(default_factory=dict)
    unknown_legs: int = 0  # legs whose events no call claimed within the hold
    stray_legs_hung_up: int = 0  # legs of timed-out creates nobody could adopt, hung up
    stream_params_truncated: int = 0
    control_requests: int = 0
    control_unknown: int = 0
    transfer_forecasts: int = 0
    bot_failures: int = 0  # bot_failed requests from the gateway (for live calls)
    dispositions: dict[str, int] = field(default_factory=dict)
    # the per-call watchdog (dialer.watchdog): checks made, and what each settled (ended,
    # not_found, bridge_ended, live, unreachable); when Exotel's unreachability was last warned
    watchdog_checks: int = 0
    watchdog_settled: dict[str, int] = field(default_factory=dict)
    watchdog_warned_at: float = float("-inf")
    # requests the control API refused, by reason (malformed, unauthorized, duplicate_call_id,
    # stopping, too_large; and, in every wiring, requests not bound to their call: unbound,
    # bad_mac, leg_mismatch)
    control_refused: dict[str, int] = field(default_factory=dict)

    def refused(self, reason: str) -> None:
        self.control_refused[reason] = self.control_refused.get(reason, 0) + 1
