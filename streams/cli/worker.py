"""`ccpulse worker`: the live pipeline (Kafka -> KPI engine -> Redis and Prometheus)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from streams.config import load_settings
from streams.errors import UserError
from streams.kpi import BUILD as ENGINE_BUILD


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run the live worker (Faust): Kafka -> KPIs -> Redis and /metrics",
        description=(
            "Consume the event topics, keep KPI state in changelog-backed tables, publish "
            "snapshots to Redis and serve /metrics and /healthz. Connections come from the "
            "environment: CCPULSE_KAFKA_BOOTSTRAP, CCPULSE_REDIS_URL, CCPULSE_REDIS_PASSWORD, "
            "CCPULSE_WEB_PORT (default 6066), CCPULSE_KAFKA_SECURITY_PROTOCOL, "
            "CCPULSE_KAFKA_SASL_*, CCPULSE_KAFKA_SSL_* (see README, 'Live pipeline')."
        ),
    )
    parser.add_argument(
        "--config", metavar="PATH", help="configuration file (default: config/ccpulse.toml)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from streams.live.environment import worker_from_env

    settings = load_settings(args.config)
    env = worker_from_env()
    logging.basicConfig(
        level=env.log_level.upper(),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log = logging.getLogger("ccpulse.worker")
    log.info(
        "starting: Kafka %s, Redis %s, web http://%s:%d, config %s, %d partitions, engine %s",
        env.kafka.redacted(),
        env.redis.redacted(),
        env.web_host,
        env.web_port,
        settings.source,
        settings.partitions,
        ENGINE_BUILD,
    )
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from streams.live.app import LiveWorker, scope_topic_name
    from streams.live.preflight import preflight

    try:
        loop.run_until_complete(preflight(settings, env, [scope_topic_name(env.app_id)]))
    except UserError:
        loop.close()
        raise
    from streams.kpi.engine import ENGINE_LOGGER
    from streams.live.log_throttle import KAFKA_CLIENT_LOGGERS, throttle_repeated_messages

    # After the preflight, which reads aiokafka's login errors to name the settings to fix.
    throttle_repeated_messages((*KAFKA_CLIENT_LOGGERS, ENGINE_LOGGER))
    env.state_dir.mkdir(parents=True, exist_ok=True)
    worker = LiveWorker(settings, env)
    return worker.run(loop)
