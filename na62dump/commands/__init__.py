"""Subcommands of ``na62dump``; one module per command (see na62dump.cli)."""
