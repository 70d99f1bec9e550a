"""Interoperability with Lamassu: keys laid out as Lamassu's Go code lays them out, both directions."""
