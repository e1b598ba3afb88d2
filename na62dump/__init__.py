"""na62dump: an open, end-to-end reproduction of the NA62 beam-dump dark-sector searches.

physics model -> fast simulation -> coffea processors -> hist -> background estimate ->
pyhf workspaces -> CLs limits -> mplhep figures. See README.md and docs/.
"""

__version__ = "0.1.0"
