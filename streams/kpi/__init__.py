"""The KPI engine: pure Python, no Faust, Kafka, Redis or Prometheus imports.

`Engine` turns canonical events (DESIGN.md, "Events") into the DESIGN snapshot. Its state lives
in injectable key-value mappings (`EngineState`): plain dicts in `ccpulse replay`, changelog-backed
Faust tables in the live worker.
"""
