"""A running campaign's figures in Prometheus text (``voxgate campaign run --metrics-port``).

Rendered from the runner's latest :class:`~dialer.campaign.progress.CampaignSnapshot`, every
sample labelled ``campaign="NAME"``; names start ``voxgate_campaign_``. Counts of leads and calls
are gauges of the campaign's totals (they survive a restart of the dialer, unlike counters of
one process); rates are fractions (0.03 = 3 %).
"""

from __future__ import annotations

from dialer.campaign.progress import CampaignSnapshot
from dialer.campaign.store import STATUSES
from voxgate_shared.prom import PromText, labels


def render_campaign_metrics(s: CampaignSnapshot) -> str:
    """One scrape of campaign ``s``'s figures."""
    out = PromText("voxgate_campaign")
    label = labels(campaign=s.campaign)

    def gauge(name: str, help_text: str, value: float) -> None:
        out.metric(name, "gauge", help_text, [(label, value)])

    out.metric("status", "gauge", "1 for the campaign's status, 0 for the others.",
               [(labels(campaign=s.campaign, status=st), int(s.status == st))
                for st in STATUSES])
    gauge("leads", "Leads in the campaign.", s.leads)
    gauge("leads_done", "Leads finished (reached, or out of attempts).", s.done)
    gauge("leads_pending", "Leads still to dial.", s.pending)
    if s.due_now is not None:
        gauge("leads_due_now", "Pending leads that may be dialled now.", s.due_now)
        gauge("leads_waiting", "Pending leads waiting for their window or retry delay.",
              s.waiting)
    gauge("calls_in_flight", "Calls being dialled or in progress.", s.in_flight)
    gauge("waiting_for_agent", "Customers waiting for an agent now.", s.waiting_for_agent)
    gauge("longest_wait_seconds", "The longest wait for an agent among them.",
          float(s.longest_wait_s))
    gauge("attempts", "Dial attempts made.", s.attempts)
    gauge("answered", "Calls answered live.", s.answered)
    gauge("escalated", "Calls escalated to an agent.", s.escalated)
    gauge("bridged", "Escalations bridged to an agent.", s.bridged)
    gauge("abandoned", "Live answers abandoned (no agent in time).", s.abandoned)
    gauge("abandon_rate_24h", "Abandoned / live answers over the last 24 hours.",
          float(s.abandon_rate_24h))
    gauge("abandon_rate_30d", "Abandoned / live answers over the last 30 days.",
          float(s.abandon_rate_30d))
    gauge("agent_occupancy", "Share of logged-in agent time ringing, talking or in wrap-up.",
          float(s.occupancy))
    out.metric("agents", "gauge", "Agents, by state.",
               [(labels(campaign=s.campaign, state=k), v)
                for k, v in sorted(s.agents.items())])
    if s.next_due_at is not None:
        gauge("next_due_timestamp_seconds", "When the first waiting lead becomes due (epoch).",
              float(s.next_due_at))
    return out.render()
