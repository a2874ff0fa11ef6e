"""Lead intelligence on the command line (issue 19):

* ``voxgate campaign leads import NAME FILE.csv (--db URL | --dialer URL)``: a CSV re-import
  (upsert): new leads added, existing ones updated (priority, custom fields, ``call_by``,
  ``callback_at``), withdrawn with a ``withdraw`` column (``yes``/``1``/``true``);
* ``voxgate campaign history import NAME FILE.csv --db URL``: past attempts (``number``,
  ``time`` epoch or ISO 8601, ``outcome``) fed into the campaign's stored pickup model (import
  before a run: a running dialer saves its own model over it);
* ``voxgate campaign explain NAME [PHONE] [--db URL] [-n 10]``: why the next leads are next
  (deadline, priority, rank, P(live) now against the best hour, the model's counts).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from dialer.campaign.client import DialerClient
from dialer.campaign.lead_model import CampaignModel
from dialer.campaign.leads_api import explain_next, leads_with_updates
from dialer.campaign.loading import existing_store, read_text
from dialer.campaign.model import CampaignError, CampaignSpec, normalise_phone
from dialer.campaign.store.intel import LeadIntelStore
from dialer.campaign.zones import zones_for_number
from dialer.leads.pickup import LeadRef, import_history

__all__ = ["register_leads"]


def register_leads(sub: Any, reported: Callable[[Callable[[argparse.Namespace], int]],
                                                Callable[[argparse.Namespace], int]],
                   dialer_help: str) -> None:
    """Add ``campaign leads import``, ``history import`` and ``explain`` to ``sub``."""
    leads = sub.add_parser("leads", help="update a campaign's leads (CSV re-import)")
    leads_sub = leads.add_subparsers(dest="leads_command", metavar="ACTION", required=True)
    imp = leads_sub.add_parser("import", help="add, update and withdraw leads from a CSV")
    imp.add_argument("name")
    imp.add_argument("file")
    imp.add_argument("--db")
    imp.add_argument("--dialer", metavar="URL", help=dialer_help)
    imp.set_defaults(func=reported(leads_import_command))
    history = sub.add_parser("history", help="the pickup model's imported history")
    history_sub = history.add_subparsers(dest="history_command", metavar="ACTION",
                                         required=True)
    himp = history_sub.add_parser("import", help="past attempts: number, time, outcome")
    himp.add_argument("name")
    himp.add_argument("file")
    himp.add_argument("--db", required=True)
    himp.set_defaults(func=reported(history_import_command))
    explain = sub.add_parser("explain", help="why the next leads are next")
    explain.add_argument("name")
    explain.add_argument("phone", nargs="?")
    explain.add_argument("--db", required=True)
    explain.add_argument("-n", type=int, default=10, help="how many of the next leads")
    explain.add_argument("--json", action="store_true", help="print JSON (as GET .../next)")
    explain.set_defaults(func=reported(explain_command))


def _store(args: argparse.Namespace) -> Any:
    return existing_store(args.db)


def _opened(args: argparse.Namespace) -> tuple[Any, CampaignSpec, LeadIntelStore, CampaignModel]:
    """The campaign database of ``--db``, the campaign, its lead store and its stored model."""
    store = _store(args)
    try:
        spec = store.campaign(args.name)
        intel = LeadIntelStore(store._database)
        return store, spec, intel, CampaignModel.from_json(spec, intel.load_model(args.name))
    except BaseException:
        store.close()
        raise


def leads_import_command(args: argparse.Namespace) -> int:
    text = read_text(args.file)
    if args.dialer:
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        done = DialerClient(args.dialer).post_leads(args.name, rows)
    else:
        if not args.db:
            raise CampaignError("--db URL is needed (or --dialer URL of a running dialer)")
        store = _store(args)
        try:
            spec = store.campaign(args.name)
            now = time.time()
            result = LeadIntelStore(store._database).upsert(
                args.name, leads_with_updates(text, spec, now), now)
            done = {"added": result.added, "updated": result.updated,
                    "withdrawn": result.withdrawn}
        finally:
            store.close()
    print(f"campaign {args.name}: {done['added']} leads added, {done['updated']} updated, "
          f"{done['withdrawn']} withdrawn")
    return 0


def _at(text: str, line: int) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CampaignError(f"line {line}: time: not an epoch or ISO 8601 time: {text[:40]!r}"
                            ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def history_rows(text: str, country: str) -> Iterator[tuple[str, float, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"number", "time", "outcome"} - {h.strip().lower() for h in reader.fieldnames or []}
    if missing:
        raise CampaignError(f"history CSV needs columns number, time, outcome (missing: "
                            f"{', '.join(sorted(missing))})")
    for row in reader:
        cells = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        try:
            number = normalise_phone(cells["number"], country)
        except CampaignError as exc:
            raise CampaignError(f"line {reader.line_num}: number: {exc}") from None
        yield number, _at(cells["time"], reader.line_num), cells["outcome"]


def history_import_command(args: argparse.Namespace) -> int:
    store, spec, intel, model = _opened(args)
    try:
        known = {row["phone"]: row for row in store.leads(args.name)}

        def lead_of(number: str) -> tuple[LeadRef, str]:
            row = known.get(number)
            if row is not None:
                custom = json.loads(row.get("custom") or "{}")
                return model.ref(int(row["id"]), str(row["timezone"]), custom), \
                    model.zone(str(row["timezone"]))
            zone = model.zone(" ".join(zones_for_number(number)))  # another person, same zone
            return LeadRef(f"history:{number}", model.ref(0, zone, {}).segment), zone

        used, _ = import_history(model.model, history_rows(read_text(args.file),
                                                           spec.default_country), lead_of)
        intel.save_model(args.name, model.model.to_json(), time.time())
    finally:
        store.close()
    print(f"campaign {args.name}: {used} past attempts imported; the model counts "
          f"{model.attempts}")
    return 0


def explain_command(args: argparse.Namespace) -> int:
    store, spec, intel, model = _opened(args)
    try:
        now = time.time()
        phone = normalise_phone(args.phone, spec.default_country) if args.phone else None
        rows = intel.next_leads(args.name, now, max(1, min(args.n, 100)), phone)
    finally:
        store.close()
    if phone is not None and not rows:
        raise CampaignError(f"no lead {phone} in campaign {args.name!r}")
    out = explain_next(model, rows, now, numbered=phone is None)
    if args.json:
        print(json.dumps({"name": args.name, "next": out}, indent=2))
        return 0
    print(f"campaign {args.name}: lead order {out[0]['lead_order'] if out else spec.lead_order}"
          f", model counts {model.attempts} attempts")
    for item in out:
        deadline = (datetime.fromtimestamp(item["deadline"], UTC).isoformat(timespec="minutes")
                    if item["deadline"] else "none")
        place = f"{item['position']}. " if item["position"] else ""
        print(f"{place}{item['phone']}: {item['because']}; deadline {deadline}, priority "
              f"{item['priority']}, rank {item['rank']:.3f}, p now {item['p_now']:.2f} vs "
              f"best {item['p_best']:.2f} at {item['best_hour']}, {item['attempts']} attempts")
        print(f"   {item['model']}")
    if not out:
        print("no lead is due now", file=sys.stderr)
    return 0
