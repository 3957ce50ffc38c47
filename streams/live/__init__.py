"""The live worker: Faust agents feeding the KPI engine, publishing to Redis and Prometheus."""
