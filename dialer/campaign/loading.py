"""Reading a campaign's inputs for ``campaign run`` and ``campaign check``: the campaign file or
stored campaign, the lead CSV, the do-not-call file, the dialer and emulator configs and the bot,
all before anything is created or changed; the checks on output and database paths; and
``check``'s report (the inputs read, the database opened read-only, the clock read, then
:func:`dialer.campaign.check.check_notes`). The driver of the pure :mod:`dialer.campaign.inputs`
and :mod:`dialer.campaign.check`. Errors are :class:`CampaignError` naming the file and the line
or key.
"""

from __future__ import annotations

import argparse
import os
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dialer.campaign.check import check_notes
from dialer.campaign.inputs import Notes, RunInputs, parse_dnc
from dialer.campaign.leads_csv import parse_leads
from dialer.campaign.model import CampaignError, campaign_from_toml
from dialer.campaign.skill_alarm import bot_script
from dialer.campaign.store import CampaignStore
from dialer.config import DialerConfig
from dialer.db import DatabaseError, driver_errors, is_postgres_url, sqlite_path
from dialer.errors import ConfigError
from voxgate_shared.redact import redact_url

if TYPE_CHECKING:
    from dialer.emulated import Embedding


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (a leading BOM dropped); :class:`CampaignError` naming the
    file when it cannot be read or is not UTF-8."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise CampaignError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CampaignError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise CampaignError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CampaignError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return text.removeprefix("\ufeff")


def check_writable(path: str, what: str) -> None:
    """Refuse (:class:`CampaignError`) an output ``path`` that is a directory or whose
    directory is missing or not writable; ``what`` names the option (``--out``)."""
    target = Path(path)
    if target.is_dir():
        raise CampaignError(f"{what} {path}: is a directory")
    parent = target.parent
    if not parent.is_dir():
        raise CampaignError(f"{what} {path}: no such directory {str(parent)!r}")
    writable = os.access(target, os.W_OK) if target.exists() else os.access(parent, os.W_OK)
    if not writable:
        raise CampaignError(f"{what} {path}: not writable")


def check_db_path(path: str) -> None:
    """Refuse (``cannot open database X: ...``) a database path that is a directory or whose
    directory is missing (a ``postgresql://`` URL: nothing to check before connecting)."""
    if is_postgres_url(path):
        return
    try:
        target = Path(sqlite_path(path))
    except DatabaseError as exc:
        raise CampaignError(f"cannot open database {path}: {exc}") from None
    if target.is_dir():
        raise CampaignError(f"cannot open database {path}: is a directory")
    if not target.parent.is_dir():
        raise CampaignError(
            f"cannot open database {path}: no such directory {str(target.parent)!r}"
        )


def open_store(path: str, *, read_only: bool = False) -> CampaignStore:
    """A :class:`CampaignStore` on ``path`` (with ``read_only``, on the existing file, changing
    nothing: :meth:`CampaignStore.read_only`); :class:`CampaignError` (``cannot open database
    X: ...``, without a URL's password) instead of a driver's error."""
    check_db_path(path)
    try:
        return CampaignStore.read_only(path) if read_only else CampaignStore(path)
    except DatabaseError as exc:  # it names the database already, without its password
        raise CampaignError(str(exc)) from None
    except driver_errors() as exc:
        raise CampaignError(f"cannot open database {redact_url(path)}: {exc}") from None


def existing_store(db: str) -> CampaignStore:
    """The campaign database ``db`` (a path or URL) opened for writing; :class:`CampaignError`
    when its SQLite file is not there (a mistyped path must not make a new, empty database)."""
    if not is_postgres_url(db) and not Path(sqlite_path(db)).exists():
        raise CampaignError(f"no campaign database at {db}")
    return open_store(db)


def check_bot(name: str) -> None:
    """Refuse a bot that is not an installed adapter (the embedded gateway could not serve
    it: every call would fail)."""
    from bot_adapters.registry import available_adapters

    installed = available_adapters()
    if name not in installed:
        raise CampaignError(
            f"bot {name!r} is not installed (installed: {', '.join(installed) or 'none'})"
        )


def load_inputs(args: argparse.Namespace) -> RunInputs:
    """Read and check every input of ``campaign run`` (campaign file or stored campaign, lead
    CSV, do-not-call file, dialer and emulator configs, the bot) without creating or changing
    anything; :class:`CampaignError` naming the file and the line or key. Lead and do-not-call
    numbers written nationally get the campaign's ``default_country``."""
    inputs = load_campaign(args.campaign, args.db)
    check_bot(inputs.settings.bot)
    inputs.script = bot_script(inputs.settings)
    country = inputs.settings.default_country
    if args.leads:
        try:
            inputs.leads = parse_leads(read_text(args.leads), default_country=country)
        except CampaignError as exc:
            text = str(exc)
            raise CampaignError(
                text if text.startswith(args.leads) else f"{args.leads}: {text}"
            ) from None
    if args.dnc:
        inputs.dnc, inputs.dnc_errors = parse_dnc(read_text(args.dnc), args.dnc, country)
    inputs.config = load_dialer_config(args.config)
    inputs.sim = (load_sim_config(args.sim_config, getattr(args, "embedding", None))
                  if args.sim_config else None)
    return inputs


def load_campaign(campaign: str, db: str | None) -> RunInputs:
    """``CAMPAIGN``: a campaign TOML file, else the name of a campaign stored in ``db`` (read
    without changing it)."""
    path = Path(campaign)
    if path.suffix == ".toml" or path.exists():
        text = read_text(campaign)
        try:
            spec = campaign_from_toml(text)
        except CampaignError as exc:
            raise CampaignError(f"{campaign}: {exc}") from None
        return RunInputs(spec, spec.name, spec)
    if db is None:
        raise CampaignError(
            f"{campaign}: no such campaign file (the name of a stored campaign needs --db)"
        )
    if not Path(db).exists():
        raise CampaignError(
            f"no campaign database at {db} (CAMPAIGN is a campaign TOML file or the name of a "
            f"campaign stored in --db; {campaign!r} is neither)"
        )
    store = open_store(db, read_only=True)
    try:
        return RunInputs(None, campaign, store.campaign(campaign))
    finally:
        store.close()


def load_dialer_config(path: str | None) -> DialerConfig:
    """The dialer's settings (``--config`` TOML, then the environment), with errors as
    ``--config FILE: ...``."""
    where = "dialer config (environment)" if path is None else f"--config {path}"
    try:
        return DialerConfig.from_toml(None if path is None else read_text(path))
    except CampaignError as exc:
        raise CampaignError(f"--config {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CampaignError(f"{where}: not valid TOML: {exc}") from None
    except ConfigError as exc:
        raise CampaignError(f"{where}: {exc}") from None


def load_sim_config(path: str, embedding: Embedding | None) -> Any:
    """The embedded emulator's config file, parsed by ``embedding`` (the composition root's),
    with errors as ``--sim-config FILE: ...``."""
    if embedding is None:
        raise CampaignError(f"--sim-config {path}: no embedded emulator in this build")
    try:
        return embedding.parse_world(read_text(path))
    except CampaignError as exc:
        raise CampaignError(f"--sim-config {exc}") from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise CampaignError(f"--sim-config {path}: {exc}") from None


def check_report(args: argparse.Namespace) -> Notes:
    """:func:`load_inputs` as ``run`` does, then what ``run`` would do, without creating or
    changing anything (``--db`` is read only, if it exists)."""
    inputs = load_inputs(args)
    store: CampaignStore | None = None
    if args.db is not None:
        check_db_path(args.db)
        if is_postgres_url(args.db) or Path(sqlite_path(args.db)).exists():
            store = open_store(args.db, read_only=True)
    try:
        notes = check_notes(args, inputs, store, time.time())
    finally:
        if store is not None:
            store.close()
    return notes
