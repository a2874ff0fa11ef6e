"""The campaign runner: claims leads from the store and dials them through the dialer at the
rate the campaign's pacer asks for, feeding the pacer what happens.

One :class:`CampaignRunner` drives one campaign on a running :class:`~dialer.service.Dialer`::

    async with LocalStack(config) as stack:
        runner = CampaignRunner(stack.dialer, CampaignStore("campaign.db"), "renewals")
        stats = await runner.run(until_done=True)

Each tick (``tick_s``) it reads the campaign's status (``pause``/``resume`` from another process
take effect within a tick), builds the pacer's :class:`~dialer.pacing.types.PacerState` from the
dialer's live calls and agent pool, and for each dial the pacer allows claims a lead
(:meth:`CampaignStore.claim_next`: compliance checks, attempt committed first) and places the
call with the attempt's call id. Each call's wait lives in the runner's ``TaskGroup``; its
record settles the attempt (retry or done) and becomes pacer observations. On start,
attempts a killed runner left ``dialing`` are settled from the dialer's records, or as
``interrupted`` (:meth:`CampaignStore.recover`), once the dialer's restart reconcile
(:mod:`dialer.restart`) has recorded the calls that run left from Exotel's data: a call that
completed meanwhile settles its attempt with its record and is not dialled again; only an
attempt Exotel never placed is retried.

Warm start: a pacer that can (``WarmStartPacer``) is seeded on start from the campaign's stored
snapshot of that pacer (:meth:`CampaignStore.pacer_snapshot`, at most 14 days old), and its
snapshot is saved every ``snapshot_every_s`` and when the run ends, so the next run (the next
shift, or a restart after a crash) starts from these figures instead of cold. No snapshot, an
old one or one that does not fit: the pacer starts cold, as on a campaign's first day.

One dialer per campaign unless they share it: :meth:`CampaignRunner.run` first takes the
campaign's lease (:meth:`CampaignStore.acquire`, before anything is recovered or dialled), or,
with ``join`` (or ``shared = true`` in the campaign), joins the dialers running it
(:mod:`dialer.campaign.sharing`: members, dead members taken over, agents per dialer). Taking
it alone raises :class:`~dialer.campaign.store.CampaignBusy` while another runner's heartbeat
is fresh; a stale lease, or one whose process on this host is gone, is taken over. A runner
that finds its lease taken over stops dialling, leaves the attempts to the new owner, lets its
calls finish and raises :class:`~dialer.campaign.store.CampaignBusy`.

Stopping: :meth:`CampaignRunner.stop` (what the CLI's Ctrl-C calls) stops new dials; calls in
flight finish and :meth:`CampaignRunner.run` returns its stats as usual. ``run(drain_timeout_s=)``
bounds that wait (calls still up after it are left to the dialer, which hangs them up when it
stops; their attempts are settled from the call records on the next run).

Heartbeat: with each progress snapshot (every ``report_every_s``, and at least every
:data:`~dialer.campaign.progress.HEARTBEAT_EVERY_S`, whether or not there is a ``report``
callback), also while calls in flight finish after dialling stops, the runner records a
heartbeat in the campaign's row; when :meth:`CampaignRunner.run` returns or raises it clears it
(:meth:`CampaignStore.detach`). ``voxgate campaign status`` reads it to say whether a dialer is
attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import sqlite3
import time
import uuid
from collections.abc import Callable

from dialer.agents import Agent
from dialer.campaign import live_calls, recovery, sharing, warm_start
from dialer.campaign.drain import drain
from dialer.campaign.lead_intel import RunnerLeads
from dialer.campaign.live_calls import AgentClock, LiveCall, agent_change
from dialer.campaign.model import AgentSpec, Outcome
from dialer.campaign.observe import Progress, on_progress
from dialer.campaign.outcomes import attempt_result, dial_observation
from dialer.campaign.progress import HEARTBEAT_EVERY_S, HEARTBEAT_STALE_S, CampaignSnapshot
from dialer.campaign.skill_alarm import SkillAlarm, warn_agent_first_unnailed
from dialer.campaign.store import (
    AttemptResult,
    CampaignBusy,
    CampaignStats,
    CampaignStoreProtocol,
    Claim,
    Lease,
    PendingLeads,
)
from dialer.campaign.store.members import HeartbeatLate
from dialer.campaign.warm_start import make_pacer
from dialer.pacing.ledger import AbandonmentLedger
from dialer.pacing.types import (
    Pacer,
    PacerState,
    WarmStartPacer,
)
from dialer.progress import (
    ProgressEvent,
)
from dialer.service import CallRequest, Dialer
from dialer.store_calls import StoreCalls

log = logging.getLogger(__name__)

__all__ = ["CampaignRunner", "attempt_result", "make_pacer"]  # the last two: from before the split



class CampaignRunner:
    """Runs one campaign (see the module docstring)."""

    def __init__(
        self,
        dialer: Dialer,
        store: CampaignStoreProtocol,
        campaign: str,
        *,
        pacer: Pacer | None = None,
        tick_s: float = 0.5,
        wall_clock: Callable[[], float] = time.time,
        report: Callable[[CampaignSnapshot], None] | None = None,
        report_every_s: float = 2.0,
        warm_start: bool = True,
        snapshot_every_s: float = 60.0,
        owner: str | None = None,
        calls: StoreCalls | None = None,
        join: bool = False,
        agent_share: int | None = None,
        stale_s: float = HEARTBEAT_STALE_S,
    ) -> None:
        self.dialer = dialer
        self.store = store
        # the store's calls during a run go through the dialer's executor (off the loop)
        self.calls: StoreCalls = calls or getattr(dialer, "calls", None) or StoreCalls()
        self.campaign = campaign
        self.spec = store.campaign(campaign)
        self.leads = RunnerLeads(store, campaign, self.spec, self.calls)  # issue 19's model
        self.pacer = pacer or make_pacer(self.spec)
        self.tick_s = tick_s
        self.wall_clock = wall_clock
        self.report = report
        self.report_every_s = report_every_s
        self.progress = Progress()
        self.skills = SkillAlarm(self.spec)  # skill gaps, logged at start and as calls fail
        self.warm_start = warm_start
        self.snapshot_every_s = snapshot_every_s
        self.warmed_from: float | None = None  # when the snapshot the pacer started from was saved
        self._restore_tried = False
        # the campaign's abandonment ledger: read from the store when run() starts (on the
        # store's worker); empty until then
        self.ledger = AbandonmentLedger()
        self._ledger_read = False
        self._live: dict[str, LiveCall] = {}
        self._agents: dict[str, AgentClock] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._pool_subscribed = False
        self._next_beat = self._next_report = 0.0  # dialer clock; set when run() starts
        # this runner's id in the campaign's lease (the CLI takes the lease under it first)
        self.owner = owner or uuid.uuid4().hex
        self._stopping = False
        self._lease_lost = False
        self._waits: set[asyncio.Task[None]] = set()
        # sharing (dialer.campaign.sharing): join the dialers running the campaign instead of
        # taking it alone (also when the campaign says ``shared = true``)
        self.join = join or self.spec.shared
        self.agent_share = agent_share
        self.stale_s = stale_s
        self._taking: asyncio.Task[int] | None = None  # a take-over in progress (its own task)

    # --- observations --------------------------------------------------------------------------
    def _on_progress(self, ev: ProgressEvent) -> None:
        live = self._live.get(ev.call_id)
        if live is not None:
            on_progress(ev, live, self.dialer.clock(), agent_first=self.spec.mode == "agent_first",
                        progress=self.progress, pacer=self.pacer)

    def _on_agent(self, agent: Agent) -> None:
        now = self.dialer.clock()
        before = self._agents.get(agent.agent_id)
        self._agents[agent.agent_id] = AgentClock(agent.state, now)
        if before is None:
            return
        busy_s, seen = agent_change(before, agent.state, now)
        self.progress.busy_agent_s += busy_s
        for observation in seen:
            self.pacer.observe(observation)

    def pacer_state(self) -> PacerState:
        """The lines and agents right now, as the pacer sees them."""
        now = self.dialer.clock()
        return self.leads.fill(live_calls.pacer_state(
            now,
            self.dialer.pool,
            self._agents,
            self._live,
            bot_first=self.spec.mode == "bot_first",
            line_limit=self.spec.limits.max_lines,
            view=self.ledger.view(self.wall_clock()),
        ), self._live)

    # --- warm start ----------------------------------------------------------------------------
    def _restore_pacer(self) -> None:
        """Seed the pacer from the campaign's stored snapshot (once per runner)."""
        if self._restore_tried or not self.warm_start:
            return
        self._restore_tried = True
        warmed_from = warm_start.restore_pacer(
            self.store, self.campaign, self.pacer, self.wall_clock
        )
        if warmed_from is not None:
            self.warmed_from = warmed_from

    async def _restore_pacer_off_loop(self) -> None:
        """:meth:`_restore_pacer` with the snapshot read on the store's worker."""
        if self._restore_tried or not self.warm_start:
            return
        self._restore_tried = True
        if not isinstance(self.pacer, WarmStartPacer):
            return
        snapshot = await self.calls.run(
            self.store.pacer_snapshot, self.campaign, self.pacer.name, self.wall_clock()
        )
        warmed_from = warm_start.use_snapshot(self.campaign, self.pacer, snapshot)
        if warmed_from is not None:
            self.warmed_from = warmed_from

    def save_pacer(self) -> bool:
        """Store the pacer's snapshot now (if it makes one); returns whether it was stored."""
        if not self.warm_start:
            return False
        return warm_start.save_pacer(self.store, self.campaign, self.pacer, self.wall_clock)

    async def _save_pacer_off_loop(self) -> None:
        """:meth:`save_pacer` on the store's worker."""
        now = self.wall_clock()
        snapshot = warm_start.snapshot_of(self.pacer, now) if self.warm_start else None
        if snapshot is not None:
            await self.calls.run(
                self.store.save_pacer_snapshot, self.campaign, self.pacer.name, snapshot, now
            )

    # --- calls ---------------------------------------------------------------------------------
    def _recover(self) -> None:
        recovery.recover_now(self.store, self.dialer.store, self.campaign, self.wall_clock())

    async def _dial(self, claim: Claim) -> None:
        fields = {"name": claim.name, **claim.custom}
        request = CallRequest(
            claim.phone,
            mode=self.spec.mode,
            bot=self.spec.bot,
            custom={**claim.custom, "campaign": self.campaign, "lead_name": claim.name},
            call_id=claim.call_id,
            skills=self.spec.skills,
            amd=self.spec.amd,
            # the campaign's own ring time (at least its legal minimum) and caller id, not the
            # dialer's: inside the service the dialer is shared
            ring_timeout=math.ceil(self.spec.limits.ring_timeout_s),
            caller_id=self.spec.exophone,
            stream_params={
                n: fields[n] for n in self.spec.stream_params if fields.get(n, "") != ""
            },
        )
        self._live[claim.call_id] = LiveCall(self.dialer.clock())
        placed_wall = self.wall_clock()
        self.progress.placed += 1
        try:
            handle = await self.dialer.place_call(request)
            record = await handle.wait()
        except Exception:
            log.exception("campaign %s: call %s failed to run", self.campaign, claim.call_id)
            self._live.pop(claim.call_id, None)
            if self._lease_lost:
                return  # the attempts are the new owner's now
            await self.calls.run(
                self.store.finish_attempt,
                claim.call_id,
                AttemptResult(Outcome.FAILED, "failed"),
                self.wall_clock(),
            )
            return
        live = self._live.pop(claim.call_id, None)
        if self._lease_lost:
            log.warning(
                "campaign %s: call %s ended (%s) after another dialer took the campaign over: "
                "its attempt is left to that dialer (it settles it from the call record)",
                self.campaign,
                claim.call_id,
                record.disposition,
            )
            return
        now = self.dialer.clock()
        self.skills.on_call(claim.call_id, record.failure, now)
        result = attempt_result(record)
        if live is None or not live.resolved:
            self.pacer.observe(dial_observation(record, now))
        if (
            self.spec.mode == "bot_first"
            and result.live
            and live is not None
            and live.answered is not None
            and not record.escalated
        ):
            self.pacer.observe(live.bot_ended(now, False))
        wall = self.wall_clock()
        if result.live:
            self.ledger.record_live(result.answered_at or wall)
            if result.abandoned:
                self.ledger.record_abandoned(wall)
        result = self.leads.settled(claim, result, placed_wall, wall)  # the model learns
        await self.calls.run(self.store.finish_attempt, claim.call_id, result, wall)

    async def _place(self, wanted: int) -> int:
        placed = 0
        assert self._tg is not None
        while placed < wanted and not self._lease_lost and not self._stopping:
            try:  # committed (on the store's worker) before its dial
                claim = await self.calls.run(
                    self.store.claim_next, self.campaign, self.wall_clock(), owner=self.owner
                )
            except HeartbeatLate as exc:  # still a member: beat at the next tick, then claim
                log.warning("%s", exc)
                self._next_beat = 0.0
                break
            except CampaignBusy as exc:
                self._lose_lease(str(exc))
                break
            if claim is None:
                break
            self.leads.claimed(claim, self.wall_clock())
            task = self._tg.create_task(self._dial(claim), name=f"campaign-{claim.call_id}")
            self._waits.add(task)
            task.add_done_callback(self._waits.discard)
            placed += 1
        return placed

    def _lose_lease(self, why: str) -> None:
        """Another dialer took the campaign over: stop dialling, leave the attempts alone."""
        if self._lease_lost:
            return
        self._lease_lost = True
        log.error(
            "campaign %s: another dialer took the campaign over (%s): this one stops dialling "
            "and leaves its %d calls in flight to finish without recording them",
            self.campaign,
            why,
            len(self._live),
        )

    def stop(self) -> None:
        """Stop placing new dials (graceful stop, e.g. on Ctrl-C): calls in flight finish and
        :meth:`run` then returns its stats as usual. Safe to call more than once, from a signal
        handler on the event loop, or before :meth:`run` starts (it then dials nothing); it
        applies to the current (or next) :meth:`run` only."""
        if not self._stopping:
            log.info("campaign %s: stopping: no new dials, calls in flight finish", self.campaign)
        self._stopping = True

    @property
    def stopping(self) -> bool:
        """Whether :meth:`stop` was called for the current run."""
        return self._stopping

    def occupancy(self) -> float:
        """Share of agent time (pool size x time since the start) spent not idle."""
        return live_calls.occupancy(
            self.dialer.clock(),
            self.progress.started,
            self.progress.busy_agent_s,
            len(self.dialer.pool),
            self._agents.values(),
        )

    def snapshot(self, stats: CampaignStats | None = None) -> CampaignSnapshot:
        """The campaign's figures now (for the live view and the closing summary)."""
        wall = self.wall_clock()
        if stats is None:
            stats = self.store.stats(self.campaign, wall, self._run_ledger())
        return self._snapshot(stats, self.store.pending(self.campaign, wall), wall)

    def _run_ledger(self) -> AbandonmentLedger | None:
        """The run's ledger for the stats; ``None`` before :meth:`run` read it (the store then
        rebuilds the stored one: the same figures)."""
        return self.ledger if self._ledger_read else None

    async def snapshot_async(self) -> CampaignSnapshot:
        """:meth:`snapshot` with the store's stats and pending leads read on its worker, never
        on the event loop (the dashboard's live feed); the same figures."""
        wall = self.wall_clock()
        stats = await self.calls.run(self.store.stats, self.campaign, wall, self._run_ledger())
        return await self._snapshot_off_loop(stats, wall)

    async def _snapshot_off_loop(self, stats: CampaignStats, wall: float | None = None
                                 ) -> CampaignSnapshot:
        """:meth:`snapshot` with the store read on its worker."""
        wall = self.wall_clock() if wall is None else wall
        return self._snapshot(stats, await self.calls.run(self.store.pending, self.campaign, wall),
                              wall)

    def _snapshot(self, stats: CampaignStats, pending: PendingLeads, wall: float
                  ) -> CampaignSnapshot:
        now = self.dialer.clock()
        return live_calls.snapshot(
            self.campaign, stats, pending, self._live.values(), now=now, wall=wall,
            elapsed_s=now - self.progress.started, occupancy=self.occupancy(),
            agents=self.dialer.pool.counts(),
        )

    async def _beat(self, stats: CampaignStats | None = None) -> None:
        """When they are due: record the heartbeat, hand the ``report`` callback a snapshot."""
        run = self.calls.run
        now = self.dialer.clock()
        if now >= self._next_beat:
            if not self._lease_lost:
                held = await run(
                    self.store.heartbeat, self.campaign, self.wall_clock(), owner=self.owner
                )
                if not held:
                    self._lose_lease(f"now held by {await run(self.store.holder, self.campaign)}")
                else:
                    await self._share()
            self._next_beat = now + min(self.report_every_s, HEARTBEAT_EVERY_S)
        if self.report is not None and now >= self._next_report:
            if stats is None:
                stats = await run(self.store.stats, self.campaign, self.wall_clock(), self.ledger)
            self.report(await self._snapshot_off_loop(stats))
            self._next_report = self.dialer.clock() + self.report_every_s

    async def _share(self) -> None:
        """At each heartbeat: take over dead members (in a task of its own: a live call's
        apology takes seconds, and dialling goes on meanwhile), sync the agents this member
        holds, and (joined) refresh the abandonment ledger from every dialer's attempts."""
        if self._taking is None or self._taking.done():
            self._taking = asyncio.create_task(
                sharing.take_over(self.dialer, self.store, self.calls, self.campaign,
                                  self.owner, self.wall_clock, self.stale_s),
                name=f"campaign-{self.campaign}-take-over")
            self._taking.add_done_callback(self._taken)
        await sharing.sync_agents(self.dialer, self.store, self.calls, self.campaign,
                                  self.owner, self._add_agent,
                                  self.agent_share if self.join else None)
        if self.join:
            self.ledger = await self.calls.run(self.store.ledger, self.campaign,
                                               self.wall_clock())

    def _taken(self, task: asyncio.Task[int]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("campaign %s: taking over a dead dialer failed (retried at the next "
                      "heartbeat once its mark is stale)", self.campaign,
                      exc_info=task.exception())

    async def _stop_taking(self) -> None:
        """The run ends: a take-over still waiting (Exotel unreachable) is stopped; its mark
        goes stale and another member takes the dead dialer over."""
        task, self._taking = self._taking, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _add_agent(self, spec: AgentSpec) -> None:
        self.dialer.add_agent(spec.id, spec.number, spec.skills, nailed=spec.nailed,
                              wrap_up_s=self.spec.limits.wrap_up_s or None,
                              caller_id=self.spec.exophone)
        self._agents[spec.id] = AgentClock(self.dialer.pool.get(spec.id).state,
                                           self.dialer.clock())

    async def _detach(self) -> None:
        """Clear the heartbeat and release the lease if this runner still holds it: no dialer
        is attached any more (never masks an exception)."""
        try:
            await self.calls.run(
                self.store.detach, self.campaign, self.wall_clock(), owner=self.owner
            )
        except sqlite3.Error as exc:
            log.warning("campaign %s: could not clear the dialer heartbeat: %s", self.campaign, exc)

    async def _drain(self, drain_timeout_s: float | None) -> None:
        """Dialling has stopped: wait for the calls in flight (:func:`~.drain.drain`)."""
        await drain(
            self.campaign,
            self._live,
            self._waits,
            clock=self.dialer.clock,
            beat=self._beat,
            tick_s=self.tick_s,
            timeout_s=drain_timeout_s,
        )

    async def run(
        self,
        *,
        until_done: bool = True,
        max_seconds: float | None = None,
        drain_timeout_s: float | None = None,
    ) -> CampaignStats:
        """Dial until every lead is finished (``until_done``), the campaign is marked ``done``,
        ``max_seconds`` pass or :meth:`stop` is called; then wait for calls in flight (at most
        ``drain_timeout_s`` when given; ``None`` waits for all) and return the final counts.

        Raises :class:`~dialer.campaign.store.CampaignBusy` when another dialer runs the
        campaign (before anything is dialled), or after its calls finish when another dialer
        took the campaign over during the run."""
        lease, dialer_id = Lease.here(self.owner), str(getattr(self.dialer.store, "owner", ""))
        try:
            if self.join:
                await self.calls.run(
                    self.store.join, self.campaign, lease, self.wall_clock(), dialer_id
                )
            else:
                await self.calls.run(
                    self.store.acquire, self.campaign, lease, self.wall_clock(),
                    dialer_id=dialer_id,
                )
        except CampaignBusy:
            self._stopping = False
            raise
        self._lease_lost = False
        try:
            stats = await self._run(until_done, max_seconds, drain_timeout_s)
        finally:
            self._stopping = False
            await self._stop_taking()
            await self._detach()
        if self._lease_lost:
            raise CampaignBusy(
                f"campaign {self.campaign}: another dialer took the campaign over during the "
                "run; this one stopped dialling"
            )
        return stats

    async def _run(
        self, until_done: bool, max_seconds: float | None, drain_timeout_s: float | None
    ) -> CampaignStats:
        # the campaign's abandonment ledger (30 days of live answers) on the store's worker
        self.ledger = await self.calls.run(self.store.ledger, self.campaign, self.wall_clock())
        self._ledger_read = True
        # the dialer's restart reconcile first: the calls a killed run left get their records
        # from Exotel's data, so a completed call settles its attempt (not dialled again)
        await self.dialer.restart_reconciled()
        # dead members (and, alone, those this runner's lease overrode) are taken over: their
        # live calls settled from Exotel, their attempts from the records
        await sharing.take_over(self.dialer, self.store, self.calls, self.campaign,
                                self.owner, self.wall_clock, self.stale_s)
        if not self.join:  # alone: whatever else a killed run left
            await recovery.recover(self.calls, self.store, self.dialer.store, self.campaign,
                                   self.wall_clock())
        await self._restore_pacer_off_loop()
        await self.leads.start()
        self.progress.started = self.dialer.clock()
        await sharing.sync_agents(self.dialer, self.store, self.calls, self.campaign,
                                  self.owner, self._add_agent,
                                  self.agent_share if self.join else None)
        warn_agent_first_unnailed(self.spec, self.dialer.pool, self.dialer.config.abandon_after)
        self.skills.at_start()
        now = self.dialer.clock()
        for agent in self.dialer.pool:
            self._agents[agent.agent_id] = AgentClock(agent.state, now)
        if not self._pool_subscribed:  # the pool has no unsubscribe: once per runner
            self.dialer.pool.subscribe(self._on_agent)
            self._pool_subscribed = True
        unsubscribe = self.dialer.subscribe(self._on_progress)
        deadline = None if max_seconds is None else self.dialer.clock() + max_seconds
        self._next_beat = self._next_report = self.dialer.clock()
        next_snapshot = self.dialer.clock() + self.snapshot_every_s
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                while True:
                    stats = await self.calls.run(
                        self.store.stats, self.campaign, self.wall_clock(), self.ledger
                    )
                    await self._beat(stats)
                    if stats.status == "done" or self._stopping or self._lease_lost:
                        break
                    if deadline is not None and self.dialer.clock() >= deadline:
                        break
                    if (
                        until_done
                        and stats.pending == 0
                        and not self._live
                        and stats.in_flight == 0
                    ):
                        break
                    if stats.status == "running":
                        await self._place(self.pacer.dials_now(self.pacer_state()))
                    await self.leads.tick(self.wall_clock())
                    if self.dialer.clock() >= next_snapshot:
                        await self._save_pacer_off_loop()
                        next_snapshot = self.dialer.clock() + self.snapshot_every_s
                    await asyncio.sleep(self.tick_s)
                await self._drain(drain_timeout_s)  # dialling has stopped: calls finish
        finally:
            self._tg = None
            self._live.clear()  # calls no longer waited for (drain timeout, an error)
            unsubscribe()
        if not self._lease_lost:
            await self._save_pacer_off_loop()
        await self.leads.save(self.wall_clock())
        final = await self.calls.run(self.store.stats, self.campaign, self.wall_clock())
        if self.report is not None:
            self.report(await self._snapshot_off_loop(final))
        return final
