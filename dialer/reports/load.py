"""The reports of a stored campaign: its rows read through the campaign store's public reading
methods (``campaign``, ``attempts``, ``call_record``), the figures computed by the pure cores
(:mod:`.campaign`, :mod:`.agents`). For the CLI (:mod:`.cli`) and any page that shows a report
(:meth:`~dialer.reports.model.Report.to_json` gives it as data)."""

from __future__ import annotations

from typing import Any, Protocol

from dialer.campaign.model import CampaignSpec
from dialer.reports.agents import agent_report
from dialer.reports.campaign import campaign_report
from dialer.reports.model import Report

__all__ = ["KINDS", "ReportSource", "agents_report_of", "campaign_report_of", "report_of"]

KINDS = ("campaign", "agents")


class ReportSource(Protocol):
    """What a report reads of a campaign store (:class:`~dialer.campaign.store.CampaignStore`
    has it)."""

    def campaign(self, name: str) -> CampaignSpec: ...
    def attempts(self, campaign: str) -> list[dict[str, Any]]: ...
    def call_record(self, call_id: str) -> dict[str, Any] | None: ...


def _rows(store: ReportSource, name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    attempts = store.attempts(name)
    records = [r for a in attempts if (r := store.call_record(str(a["call_id"]))) is not None]
    return attempts, records


def campaign_report_of(store: ReportSource, name: str) -> Report:
    """The campaign report of ``name`` (unknown: the store's ``CampaignError``)."""
    spec = store.campaign(name)
    attempts, records = _rows(store, name)
    return campaign_report(name, spec.timezone, attempts, records)


def agents_report_of(store: ReportSource, name: str) -> Report:
    """The agent report of ``name`` (unknown: the store's ``CampaignError``)."""
    spec = store.campaign(name)
    _, records = _rows(store, name)
    return agent_report(name, records, agents=[a.id for a in spec.agents],
                        wrap_up_s=spec.limits.wrap_up_s)


def report_of(store: ReportSource, kind: str, name: str) -> Report:
    """``kind`` (one of :data:`KINDS`) of campaign ``name``."""
    if kind == "campaign":
        return campaign_report_of(store, name)
    if kind == "agents":
        return agents_report_of(store, name)
    raise ValueError(f"unknown report {kind!r} (one of {', '.join(KINDS)})")
