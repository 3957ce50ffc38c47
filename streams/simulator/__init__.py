"""Discrete-event contact-centre simulator: canonical events (DESIGN.md) and their ground truth.

`scenario` reads a scenario file, `model` runs the simulation and emits events in time order,
`ledger` keeps the simulation's own records, `truth` turns those records into a DESIGN
snapshot, `output` writes events to files or Kafka.
"""
