"""The event intake's server for a dialer's config: HTTP(S) (:class:`~dialer.intake.
HttpIntakeServer`) or gRPC (:class:`~dialer.intake_grpc.GrpcIntakeServer`, imported only then)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dialer.errors import ConfigError
from dialer.event_endpoint import EventEndpoint, plan_event_endpoint
from dialer.intake import EventIntake, HttpIntakeServer, server_tls_context

if TYPE_CHECKING:
    from dialer.intake_grpc import GrpcIntakeServer

__all__ = ["make_intake_server"]


def make_intake_server(
    intake: EventIntake, endpoint: EventEndpoint | str, *, auth: str = ""
) -> HttpIntakeServer | GrpcIntakeServer:
    """The server for ``endpoint``: a plan from :func:`dialer.event_endpoint.plan_event_endpoint`
    (``DialerConfig.event_plan``), or a loopback URL (``grpc://127.0.0.1:0``,
    ``http://127.0.0.1:0/path``) with ``auth``. Its :attr:`endpoint` after ``start`` is the
    public URL, credentials included."""
    plan = endpoint if isinstance(endpoint, EventEndpoint) else None
    if plan is None:
        try:
            plan = plan_event_endpoint(str(endpoint), auth=auth)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    if plan.transport == "grpc":  # gRPC is loaded only by a dialer that takes events over it
        from dialer.intake_grpc import GrpcIntakeServer

        return GrpcIntakeServer(intake, plan.bind_host, plan.bind_port, auth=plan.auth,
                                plan=plan, certfile=plan.certfile, keyfile=plan.keyfile)
    tls = server_tls_context(plan.certfile, plan.keyfile) if plan.serve_tls else None
    return HttpIntakeServer(intake, plan.bind_host, plan.bind_port, plan.path, auth=plan.auth,
                            plan=plan, tls=tls)
