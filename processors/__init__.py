"""Coffea processors, one per decay channel: ee, mumu, pipi, hadronic."""
