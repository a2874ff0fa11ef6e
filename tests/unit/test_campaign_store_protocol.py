"""The campaign store's facade and its interface (issue 15, for the PostgreSQL store of issue 17):
``CampaignStore`` implements every method of ``CampaignStoreProtocol`` with the same parameters,
and has no public method the interface lacks, so a second store written against the interface
serves every caller of the first."""

from __future__ import annotations

import inspect
from pathlib import Path

from dialer.campaign.model import CampaignSpec
from dialer.campaign.store import CampaignStore, CampaignStoreProtocol


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(getattr(cls, name))
        for name, member in vars(cls).items()
        if isinstance(member, (classmethod, staticmethod)) or inspect.isfunction(member)
        if not name.startswith("_")
    }


def test_the_sqlite_store_has_exactly_the_interfaces_methods() -> None:
    facade = public_methods(CampaignStore)
    facade.pop("read_only")  # a constructor of the SQLite store, not an operation
    interface = public_methods(CampaignStoreProtocol)
    assert sorted(facade) == sorted(interface)
    for name, signature in interface.items():
        ours = facade[name]
        assert list(ours.parameters) == list(signature.parameters), name
        for param, spec in signature.parameters.items():
            mine = ours.parameters[param]
            assert mine.kind == spec.kind, (name, param)
            # a default in the interface (``...``) is a default in the store, and vice versa
            assert (mine.default is inspect.Parameter.empty) == (
                spec.default is inspect.Parameter.empty
            ), (name, param)
            if spec.default not in (inspect.Parameter.empty, Ellipsis):
                assert mine.default == spec.default, (name, param)


def test_a_caller_typed_against_the_interface_runs_on_the_sqlite_store(tmp_path: Path) -> None:
    store: CampaignStoreProtocol = CampaignStore(str(tmp_path / "c.db"))
    store.create_campaign(CampaignSpec("c"), 0.0)
    assert store.campaigns() == ["c"]
    assert store.status("c") == "running"
    store.close()
