"""Sinks and sources around the engine: Redis publisher, Prometheus collector, Kafka helpers."""
