"""How long the runner's lead-rank refresh takes (issue 19), on a SQLite campaign database:
the leads to rank read on the store's connection (the first 5,000 due in the claim's order),
ranked off the store with the pickup model, the changed ranks written.

    .venv/bin/python bench/lead_refresh.py --leads 20000 --history 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from dialer.campaign.lead_model import CampaignModel  # noqa: E402
from dialer.campaign.model import CampaignSpec, Lead  # noqa: E402
from dialer.campaign.store import CampaignStore  # noqa: E402
from dialer.campaign.store.intel import LeadIntelStore  # noqa: E402

NOON = 1_700_000_000.0 + 6.5 * 3600  # a weekday, 10:13 in Asia/Kolkata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--leads", type=int, default=20_000)
    parser.add_argument("--history", type=int, default=5_000, help="attempts the model counts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = CampaignStore(os.path.join(tmp, "c.db"))
        store.create_campaign(CampaignSpec("c1", segment_fields=("plan",)), NOON)
        store.add_leads("c1", [Lead(f"+9198{i:08d}", custom={"plan": "gp"[i % 2]})
                               for i in range(args.leads)], NOON)
        model = CampaignModel(store.campaign("c1"))
        for i in range(args.history):
            model.observe(i, "", {"plan": "gp"[i % 2]}, NOON + 3600 * (i % 24), i % 4 == 0)
        intel = LeadIntelStore(store._database)
        for k in range(2):
            now = NOON + 30 * k
            t0 = time.perf_counter()
            rows = intel.due_rows("c1", now)
            t1 = time.perf_counter()
            ranks = model.rank(rows, now)
            t2 = time.perf_counter()
            written = intel.write_ranks(rows, ranks)
            t3 = time.perf_counter()
            print(f"refresh {k + 1}: {args.leads} leads due, {len(rows)} read in "
                  f"{1000 * (t1 - t0):.0f} ms, ranked in {1000 * (t2 - t1):.0f} ms (off the "
                  f"store), {written} written in {1000 * (t3 - t2):.0f} ms")
        store.close()


if __name__ == "__main__":
    main()
