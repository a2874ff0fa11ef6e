"""Reports a team lead reads after a run (issue 18): the campaign report (disposition funnel,
bot containment and escalation rates, latency percentiles, abandonment by hour:
:mod:`.campaign`) and the agent report (calls, talk time, handle time, wrap-up, missed rings,
dispositions and conversion, escalations taken, customer wait: :mod:`.agents`), each figure
defined in its module's docstring from the call records and the attempts table.

- :mod:`.model`: a report as data (tables, charts), percentiles and rates -- pure;
- :mod:`.campaign`, :mod:`.agents`: the figures from rows -- pure;
- :mod:`.render`, :mod:`.html`: table, CSV, JSON lines, self-contained HTML with SVG charts --
  pure;
- :mod:`.load`: a stored campaign's reports through the campaign store's reading methods (what
  a web page calls: ``report_of(store, "agents", name).to_json()``);
- :mod:`.cli`: ``voxgate report``.
"""
