"""Local services the project runs itself: Kafka (KRaft), redis-server and Prometheus.

Each is a class with `start()`, `stop()`, `wait_ready(timeout)` and an address property
(`KafkaBroker.bootstrap`, `RedisServer.url`, `PrometheusServer.url`), usable as a context
manager. `ccpulse services` drives them from a shell; the test fixtures use them directly.
"""

from streams.services.kafka import KafkaBroker
from streams.services.kafka_dist import KAFKA_VERSION, KafkaDistribution
from streams.services.process import ManagedService, ServiceError, free_port, free_ports, poll_until
from streams.services.prometheus import PrometheusServer
from streams.services.redis_server import RedisServer

__all__ = [
    "KAFKA_VERSION",
    "KafkaBroker",
    "KafkaDistribution",
    "ManagedService",
    "PrometheusServer",
    "RedisServer",
    "ServiceError",
    "free_port",
    "free_ports",
    "poll_until",
]
