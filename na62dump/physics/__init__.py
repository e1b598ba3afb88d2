"""Pure, vectorised physics models: dark photon, ALP, dark scalar, production."""
