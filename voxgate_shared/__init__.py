"""What the gateway and the dialer share, and nothing else: both import it, it imports neither.

* :mod:`voxgate_shared.control`: the control requests (transfer, hang-up, forecast, ``bot_failed``,
  ``greeting_wait``), the ``vx_call`` format and the hook protocol (pure);
* :mod:`voxgate_shared.control_token`: the control API's bearer token (environment or 0600 file);
* :mod:`voxgate_shared.prom`: Prometheus text exposition, labels escaped (pure);
* :mod:`voxgate_shared.redact`: secrets masked in every process's logs (pure).

``tests/unit/test_layering.py`` enforces the direction (docs/architecture.md, Layers).
"""
