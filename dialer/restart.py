"""Live calls left by an earlier run of the same database (SIGKILL, a crash): settled on start.

Each live call's state is persisted at each step (:mod:`dialer.live_state`, the records
store's ``live_calls`` table). On start, :func:`reconcile` asks Exotel about every such call
(``GET /legs/{sid}`` for its customer leg and an on-demand agent leg) and settles it, never
dialling anyone again:

* every leg ended: the record is built from Exotel's data (disposition from the customer leg's
  terminal status as the flow would give it, the legs' durations and termination reasons);
* killed while its create was in flight (no leg sid yet): the leg is looked up by its
  ``custom_param`` (the call id) where the API lists legs, then as above; not found (Exotel
  documents no list of legs): the record says ``lost`` (whether the call was placed is not
  known), never ``no_answer``;
* a leg still live: the call cannot be adopted (its events went to the dead run), so the
  documented rule ends it: a live customer hears ``APOLOGY`` (a ``start_say``; ``apology_s``
  seconds, skipped when Exotel refuses the say), then is hung up; a live agent leg is hung up,
  a nailed one too (its keeper died with the run; this run's keeper dials its own); the record
  has disposition
  ``dialer_restart`` and ``ended_in`` the stage the call was in.

The record is stored and the row deleted in one transaction (:meth:`RecordStore.save`).
Exotel unreachable for a call: its row stays and the reason is logged (a WARNING a round);
:func:`reconcile` asks again after 1, 2, 4 ... s (at most ``RETRY_MAX_S``) until every call
is settled, so a campaign runner waiting on it never retries an attempt Exotel may have placed
(it could not dial while Exotel is unreachable anyway). A stopped dialer keeps the rows for the
next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from dialer.errors import ExotelApiError, ExotelError
from dialer.flows.watchdog import Verdict, terminal_status, verdict
from dialer.ports import ExotelApi
from dialer.records import CallRecord, RecordStore, compute_latencies
from dialer.runner import _duration
from dialer.store_calls import StoreCalls
from dialer.uncertain import same_number

log = logging.getLogger(__name__)

APOLOGY = "Sorry, we have to end this call because of a technical problem. We will call you back."
DISPOSITION = "dialer_restart"
UNKNOWN_LEG = "lost"
GET_TIMEOUT = 5.0
RETRY_FIRST_S = 1.0
RETRY_MAX_S = 60.0


async def reconcile(store: RecordStore, api: ExotelApi, *, apology_s: float = 3.0,
                    states: list[dict[str, Any]] | None = None,
                    calls: StoreCalls | None = None) -> int:
    """Settle ``states`` (default: every live call the store holds; a dialer reads them before
    it places a call of its own); returns how many got their record. The store is written
    through ``calls`` (off the event loop)."""
    calls = calls or StoreCalls()
    pending = await calls.run(store.live_calls) if states is None else states
    if not pending:
        return 0
    log.warning("%d live call(s) left by an earlier run: settling them from Exotel",
                len(pending))
    settled, delay = 0, RETRY_FIRST_S
    while True:
        done = await asyncio.gather(*(_settle(store, api, s, apology_s, calls)
                                      for s in pending))
        settled += sum(done)
        pending = [s for s, ok in zip(pending, done, strict=True) if not ok]
        if not pending:
            return settled
        log.warning("%d call(s) left by an earlier run wait for Exotel; asking again in %.0f s",
                    len(pending), delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, RETRY_MAX_S)


async def _settle(store: RecordStore, api: ExotelApi, state: Mapping[str, Any],
                  apology_s: float, calls: StoreCalls) -> bool:
    call_id = str(state.get("call_id", ""))
    try:
        if not state.get("customer_leg_sid"):
            state = await _find_customer_leg(api, state)
        customer = await _leg(api, str(state.get("customer_leg_sid", "")))
        agent_sid = str(state.get("agent_leg_sid", ""))
        agent = await _leg(api, agent_sid)
    except (ExotelError, TimeoutError) as exc:
        log.warning("call %s (left by an earlier run): Exotel did not answer (%s); kept for "
                    "the next start", call_id, exc)
        return False
    live = [(role, sid) for role, sid, data in (("customer", state.get("customer_leg_sid"),
                                                 customer), ("agent", agent_sid, agent))
            if sid and data is not None and verdict("leg", data) is Verdict.LIVE]
    if live:
        await _end(api, call_id, live, apology_s)
        customer = await _leg_quietly(api, str(state.get("customer_leg_sid", ""))) or customer
        agent = await _leg_quietly(api, agent_sid) or agent
    # a nailed agent's leg is not the call's (no facts in the record, as at a normal end)
    agent = None if state.get("agent_nailed") else agent
    record = build_record(state, customer, agent, ended_by_restart=bool(live))
    await calls.run(store.save, record, lane=call_id)
    log.warning("call %s (left by an earlier run in stage %s): recorded %s%s", call_id,
                state.get("stage", ""), record.disposition,
                f", hung up {', '.join(r for r, _ in live)}" if live else "")
    return True


async def _find_customer_leg(api: ExotelApi, state: Mapping[str, Any]) -> Mapping[str, Any]:
    """Killed before its create answered: the leg, if Exotel made one, is found by its
    ``custom_param`` (the call id) where the API lists legs (``GET /legs``, not documented by
    Exotel); elsewhere nothing can be found (logged; the record says so)."""
    call_id = str(state.get("call_id", ""))
    number = str((state.get("request") or {}).get("number", ""))
    try:
        legs = await asyncio.wait_for(api.list_legs(custom_param=call_id), GET_TIMEOUT)
    except ExotelApiError as exc:
        log.warning("call %s (left by an earlier run while dialling): legs cannot be listed "
                    "(%s); a leg Exotel made is not known", call_id, exc)
        return state
    for leg in legs:
        sid = leg.get("leg_sid")
        if leg.get("custom_param") == call_id and same_number(
                str(leg.get("contact_uri", "")), number) and isinstance(sid, str):
            return {**state, "customer_leg_sid": sid}
    return state


async def _leg(api: ExotelApi, sid: str) -> dict[str, Any] | None:
    """Exotel's data for a leg; None without a sid; ``{"state": "not_found"}`` for a 404."""
    if not sid:
        return None
    try:
        return await asyncio.wait_for(api.get_leg(sid), GET_TIMEOUT)
    except ExotelApiError as exc:
        if exc.status == 404:
            return {"state": "terminated", "terminal_status": "not_found"}
        raise


async def _leg_quietly(api: ExotelApi, sid: str) -> dict[str, Any] | None:
    try:
        return await _leg(api, sid)
    except (ExotelError, TimeoutError):
        return None


async def _end(api: ExotelApi, call_id: str, live: list[tuple[str, Any]],
               apology_s: float) -> None:
    """The rule for a call still up: the customer hears the apology, then every live leg is
    hung up."""
    customer = next((str(sid) for role, sid in live if role == "customer"), "")
    if customer and apology_s > 0:
        try:
            await api.leg_action(customer, "start_say", {"text": APOLOGY})
            await asyncio.sleep(apology_s)  # the message plays; nothing else waits on it
        except ExotelError as exc:
            log.info("call %s: the apology could not be said (%s); hanging up", call_id, exc)
    for _role, sid in live:
        try:
            await api.hangup(str(sid))
        except ExotelError as exc:
            log.warning("call %s: hanging up leg %s left by an earlier run failed: %s",
                        call_id, sid, exc)


def build_record(state: Mapping[str, Any], customer: Mapping[str, Any] | None,
                 agent: Mapping[str, Any] | None, *, ended_by_restart: bool) -> CallRecord:
    """The record of a call left by an earlier run, from its persisted state and Exotel's
    data for its legs."""
    request = state.get("request") or {}
    # answered after the dead run's last step: Exotel's answer_time says so
    answered = bool(state.get("answered")) or bool(customer and customer.get("answer_time"))
    bridged = bool(state.get("bridged"))
    status = terminal_status(customer) if customer is not None else ""
    if ended_by_restart:
        disposition = DISPOSITION
    elif customer is None and not answered:
        # killed while its create was in flight, its leg not found: whether Exotel placed
        # the call is not known (never "no_answer", which a campaign would retry)
        disposition = UNKNOWN_LEG
    elif not answered:
        low = status.lower()
        disposition = "failed" if "fail" in low else "busy" if "busy" in low else "no_answer"
    else:
        disposition = "agent_handled" if bridged else "customer_hangup"
    timeline = [(str(n), float(t)) for n, t in state.get("timeline", ())]
    return CallRecord(
        call_id=str(state.get("call_id", "")),
        number=str(request.get("number", "")),
        mode=str(request.get("mode", "bot_first")),
        bot=str(request.get("bot", "")),
        disposition=disposition,
        answered=answered,
        escalated=bool(state.get("escalated")),
        bridged=bridged,
        ended_in=str(state.get("stage", "")),
        failure="dialer restarted: settled from Exotel's data" if customer is not None
        else "dialer restarted while the leg was being created: its leg is not known",
        customer_leg_sid=str(state.get("customer_leg_sid", "")),
        agent_leg_sid=str(state.get("agent_leg_sid", "")),
        agent_id=str(state.get("agent_id", "")),
        agent_nailed=bool(state.get("agent_nailed")),
        bridge_sid=str(state.get("bridge_sid", "")),
        duration_s=_duration(customer) if customer is not None else None,
        termination_reason=status,
        agent_duration_s=_duration(agent) if agent is not None else None,
        agent_termination_reason=terminal_status(agent) if agent is not None else "",
        started_at=float(state.get("started_at", 0.0)),
        latencies=compute_latencies(timeline),
        timeline=tuple((n, round(t * 1000.0, 1)) for n, t in timeline),
        custom=dict(request.get("custom") or {}),
    )
