"""Campaigns: lead lists dialled under compliance rules and a pacer, state kept in SQLite.

Pure parts (no I/O): :mod:`.model`, :mod:`.leads_csv`, :mod:`.compliance`, :mod:`.retry`.
:mod:`.store` is the SQLite state; :mod:`.runner` drives a campaign on the dialer's API;
:mod:`.cli` is ``voxgate campaign run|status|pause|resume|export``.
"""
