"""Shared fixtures of the test suite.

``tiny_campaign``
    The ``tiny`` preset of the packaged ``datasets.yaml``, simulated once per test session
    (real generators, real writer; a few seconds) into a temporary directory. It returns the
    loaded :class:`na62dump.simulation.campaign.Campaign`: ``.config`` (the datasets.yaml),
    ``.data_dir`` (where the files are), ``.datasets``, ``.fileset(channels)``, ``.get(name)``.
    Made with the campaign's own seed, so ``na62dump simulate``/``all`` pointed at
    ``data_dir`` find them up to date. Treat the files as read-only: other tests share them.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_campaign(tmp_path_factory):
    """The simulated ``tiny`` campaign (see the module docstring)."""
    from na62dump.commands.simulate import simulate_campaign
    from na62dump.simulation.campaign import load_campaign

    data_dir = tmp_path_factory.mktemp("tiny_campaign")
    campaign = load_campaign(preset="tiny", data_dir=data_dir)
    # the campaign's own seed, so that `na62dump all --data-dir <this>` finds them up to date
    report = simulate_campaign(campaign)
    assert not report.skipped and report.written
    return campaign
