"""The supervisor dashboard (issue 18): a small aiohttp app served by the dialer service under
``/ui/`` on its control port (``voxgate dialer run --users FILE``).

Modules, one job each:

* :mod:`~dialer.web.users` -- the users file (roles, scrypt hashes); ``voxgate users``
  (:mod:`~dialer.web.users_cli`) writes it;
* :mod:`~dialer.web.sessions` -- server-side sessions and login throttling (pure);
* :mod:`~dialer.web.auth` -- login, logout, the access middleware (sessions, CSRF, roles);
* :mod:`~dialer.web.snapshot` -- the live feed's figures from the runners' (pure);
* :mod:`~dialer.web.live` -- the feed (SSE), its cache and the shift's history for charts;
* :mod:`~dialer.web.controls` -- pause/resume, dial aim, agent logout, each audited
  (:mod:`~dialer.web.audit`);
* :mod:`~dialer.web.desk` -- the agent desk: the call's lead and bot findings, disposition,
  pause and ready (its own feed, ``static/desk.js``);
* :mod:`~dialer.web.calls` -- the calls list, search (:mod:`~dialer.web.calls_query`), call
  pages (:mod:`~dialer.web.calls_view`) and the recording streamed through
  (:mod:`~dialer.web.calls_recording`); :mod:`~dialer.web.reports_page` -- the report pages;
* :mod:`~dialer.web.pages` and ``templates/`` -- the HTML; ``static/`` -- CSS, plain JS and the
  vendored uPlot (``static/vendor/uplot``, see its ``VERSION``);
* :mod:`~dialer.web.app` -- the routes and :func:`~dialer.web.app.mount`.

Extending: a new page is a template, a handler calling :func:`~dialer.web.pages.page`, a route
in :func:`~dialer.web.app.build_app` and (for agents) a path in
:data:`dialer.web.auth.AGENT_PATHS`; a new control is a handler in
:mod:`~dialer.web.controls` that calls ``_audit``.
"""
