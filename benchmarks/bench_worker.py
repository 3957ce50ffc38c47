"""Live worker speed: throughput against a bare consumer, produce->Redis latency, memory.

    .venv/bin/python benchmarks/bench_worker.py [--events 400000] [--latency-seconds 60]
        [--memory-seconds 600] [--publish-interval 1.0]

Starts its own Kafka (KRaft) and redis-server on free loopback ports (streams.services).

1. Throughput: N synthetic events (50 queues, 500 agents, times in the last minute) are
   produced to the topics first. Then, in the same run, a bare aiokafka consumer reads them as
   fast as it can (the ceiling: fetch only, no decoding), and one `ccpulse worker` subprocess
   (fresh consumer group) processes them; its rate is N / (time from ready to the last event
   handled, polled on /healthz at 20 Hz).
2. Latency: a fresh worker; events paced at `--rate` (default 2,000/s, times = now) for
   `--latency-seconds`, including a probe `call.offered` for queue `bench-probe` every 100 ms.
   A subscriber on `ccpulse:updates` sees when the probe count reaches k; latency of probe k =
   that moment minus its send time. Includes the coalescing wait (publish_interval).
3. Memory: the worker's RSS (/proc) sampled every 5 s during the paced run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.adapters.kafka_producer import make_producer, route_event, topic_for_type
from streams.config import load_settings
from streams.live.environment import KafkaConnection
from streams.live.preflight import ensure_topics
from streams.services import KafkaBroker, RedisServer, free_ports
from streams.synthetic import call_cycle_events

CCPULSE = str(Path(sys.executable).parent / "ccpulse")


def write_config(path: Path, prefix: str, publish_interval: float) -> Path:
    topics = "\n".join(
        [
            f'{name} = "{prefix}.call.{name}"'
            for name in ("offered", "answered", "abandoned", "wrapup")
        ]
        + [f'agent_state = "{prefix}.agent.state"', f'dead_letter = "{prefix}.dead-letter"']
    )
    path.write_text(f"publish_interval_seconds = {publish_interval}\n[topics]\n{topics}\n")
    return path


async def produce_all(kafka: KafkaConnection, lines: list[bytes], topics: dict[str, str]) -> float:
    producer = make_producer(kafka, acks=1, enable_idempotence=False, linger_ms=20)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for line in lines:
            route = route_event(line, topics)
            pending.append(await producer.send(route.topic, line, key=route.key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def bare_consumer_rate(
    kafka: KafkaConnection, topics: list[str], partitions: int, count: int
) -> float:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka.servers,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        assigned = [TopicPartition(t, p) for t in topics for p in range(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        seen = 0
        started = time.perf_counter()
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for records in batches.values():
                seen += len(records)
        return count / (time.perf_counter() - started)
    finally:
        await consumer.stop()


class Worker:
    def __init__(self, directory: Path, config: Path, env: dict[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1)[0]
        self.log = (directory / "worker.log").open("wb")
        self.process = subprocess.Popen(
            [CCPULSE, "worker", "--config", str(config)],
            env={
                **os.environ,
                **env,
                "CCPULSE_WEB_PORT": str(self.port),
                "CCPULSE_STATE_DIR": str(directory / "state"),
            },
            cwd=directory,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def health(self) -> dict:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return json.loads(r.read())
        except Exception:
            return {}

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.health().get("ready"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker not ready (exit {self.process.poll()})")
            time.sleep(0.1)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def worker_throughput(workdir: Path, config: Path, env: dict[str, str], count: int) -> dict:
    worker = Worker(workdir / "throughput", config, {**env, "CCPULSE_APP_ID": "bench-tp"})
    try:
        worker.wait_ready()
        cpu0 = worker.cpu_seconds()
        started = time.perf_counter()
        done = 0
        while done < count:
            time.sleep(0.05)
            done = worker.health().get("events_processed", done)
            if time.perf_counter() - started > 600:
                raise SystemExit(f"worker handled only {done} of {count} in 600 s")
        elapsed = time.perf_counter() - started
        return {
            "rate": count / elapsed,
            "seconds": elapsed,
            "cpu": worker.cpu_seconds() - cpu0,
            "rss": worker.rss_mib(),
        }
    finally:
        worker.stop()


def paced_events(rate: float, seconds: float):
    """(send_at, line, probe_index or None) at `rate` per second, times = now at send."""
    queues = [f"queue-{i:03d}" for i in range(50)]
    start = time.time()
    call = probe = 0
    sent = 0
    next_probe = start
    while True:
        now = time.time()
        if now - start >= seconds:
            return
        due = int((now - start) * rate) - sent
        for _ in range(max(due, 0)):
            sent += 1
            call += 1
            kind = call % 4
            queue = queues[(call // 4) % 50]  # one call's events stay in one queue
            agent = f"agent-{call % 500:04d}"
            cid = f"call-{call // 4}"
            if kind == 0:
                event = {"type": "call.offered", "call_id": cid, "queue": queue}
            elif kind == 1:
                event = {
                    "type": "call.answered",
                    "call_id": cid,
                    "queue": queue,
                    "agent_id": agent,
                    "wait_seconds": 12.0,
                }
            elif kind == 2:
                event = {
                    "type": "call.wrapup",
                    "call_id": cid,
                    "queue": queue,
                    "agent_id": agent,
                    "talk_seconds": 200.0,
                    "hold_seconds": 0,
                    "acw_seconds": 30.0,
                }
            else:
                event = {
                    "type": "agent.state",
                    "agent_id": agent,
                    "state": ("available", "on_call", "wrap_up")[call % 3],
                    "queues": [queue],
                    "team": f"team-{call % 20}",
                }
            event |= {"event_id": f"p{call}", "ts": now}
            yield now, orjson.dumps(event), None
        if now >= next_probe:
            probe += 1
            next_probe += 0.1
            event = {
                "type": "call.offered",
                "event_id": f"probe-{probe}",
                "ts": now,
                "call_id": f"probe-{probe}",
                "queue": "bench-probe",
            }
            yield now, orjson.dumps(event), probe
        yield None, None, None  # let the caller sleep


async def latency_run(
    kafka: KafkaConnection,
    redis_url: str,
    worker: Worker,
    topics: dict,
    rate: float,
    seconds: float,
) -> dict:
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe("ccpulse:updates")
    sent_at: dict[int, float] = {}
    seen_at: dict[int, float] = {}
    rss: list[tuple[float, float]] = []

    async def listen() -> None:
        best = 0
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            received = time.time()
            queue = orjson.loads(message["data"])["queues"].get("bench-probe")
            if queue is None:
                continue
            count = queue["windows"]["today"]["offered"]
            for probe in range(best + 1, count + 1):
                seen_at[probe] = received
            best = max(best, count)

    async def sample_memory() -> None:
        start = time.monotonic()
        while True:
            rss.append((time.monotonic() - start, worker.rss_mib()))
            await asyncio.sleep(5)

    listener = asyncio.create_task(listen())
    sampler = asyncio.create_task(sample_memory())
    producer = make_producer(kafka, acks=1, enable_idempotence=False, linger_ms=0)
    await producer.start()
    try:
        for send_at, line, probe in paced_events(rate, seconds):
            if line is None:
                await asyncio.sleep(0.002)
                continue
            route = route_event(line, topics)
            await producer.send(route.topic, line, key=route.key)
            if probe is not None:
                sent_at[probe] = send_at
        await producer.flush()
        deadline = time.time() + 10
        while len(seen_at) < len(sent_at) and time.time() < deadline:
            await asyncio.sleep(0.1)
    finally:
        await producer.stop()
        listener.cancel()
        sampler.cancel()
        await client.aclose()
    if os.environ.get("BENCH_DEBUG"):
        first = min(sent_at.values())
        for p in sorted(sent_at):
            if p in seen_at and seen_at[p] - sent_at[p] > 0.8:
                print(
                    f"  slow probe {p} sent +{sent_at[p] - first:.2f}s: "
                    f"{(seen_at[p] - sent_at[p]) * 1000:.0f} ms"
                )
    latencies = sorted(seen_at[p] - sent_at[p] for p in sent_at if p in seen_at)
    missing = len(sent_at) - len(latencies)
    return {
        "probes": len(sent_at),
        "missing": missing,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "max": latencies[-1],
        "rss": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--publish-interval", type=float, default=1.0)
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-worker-"))
    kafka_port, controller_port, redis_port = free_ports(3)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; workdir {workdir}"
    )
    with (
        KafkaBroker(workdir / "kafka", port=kafka_port, controller_port=controller_port) as broker,
        RedisServer(workdir / "redis", port=redis_port) as redis_server,
    ):
        kafka = KafkaConnection(bootstrap=broker.bootstrap)
        env = {
            "CCPULSE_KAFKA_BOOTSTRAP": broker.bootstrap,
            "CCPULSE_REDIS_URL": redis_server.url,
            "CCPULSE_KAFKA_SESSION_TIMEOUT": "10",
            "CCPULSE_KAFKA_HEARTBEAT_INTERVAL": "2",
            "CCPULSE_LOG_LEVEL": "warning",
        }
        if not args.skip_throughput:
            config = write_config(workdir / "tp.toml", "tp", args.publish_interval)
            settings = load_settings(config)
            topics = topic_for_type(settings)
            # ~6 events per call; 2,000 calls/s squeezes N events into the last minute or so.
            lines = list(
                call_cycle_events(
                    args.events, start=time.time() - 90, calls_per_second=args.events / 6 / 80
                )
            )
            asyncio.run(ensure_topics(kafka, settings, []))
            produce_seconds = asyncio.run(produce_all(kafka, lines, topics))
            print(f"produced {len(lines):,} events in {produce_seconds:.1f} s")
            ceiling = asyncio.run(
                bare_consumer_rate(
                    kafka, sorted(set(topics.values())), settings.partitions, len(lines)
                )
            )
            print(f"bare aiokafka consumer: {ceiling:,.0f} events/s")
            result = worker_throughput(workdir, config, env, len(lines))
            print(
                f"worker: {result['rate']:,.0f} events/s ({result['seconds']:.1f} s, "
                f"CPU {result['cpu']:.1f} s, RSS {result['rss']:.0f} MiB) = "
                f"{result['rate'] / ceiling:.0%} of the bare consumer"
            )
        config = write_config(workdir / "lat.toml", "lat", args.publish_interval)
        asyncio.run(ensure_topics(kafka, load_settings(config), []))
        topics = topic_for_type(load_settings(config))
        worker = Worker(workdir / "latency", config, {**env, "CCPULSE_APP_ID": "bench-lat"})
        try:
            worker.wait_ready()
            result = asyncio.run(
                latency_run(
                    kafka, redis_server.url, worker, topics, args.rate, args.latency_seconds
                )
            )
        finally:
            worker.stop()
        print(
            f"latency at {args.rate:,.0f} events/s for {args.latency_seconds:.0f} s, "
            f"publish_interval {args.publish_interval} s: p50 {result['p50'] * 1000:.0f} ms, "
            f"p99 {result['p99'] * 1000:.0f} ms, max {result['max'] * 1000:.0f} ms "
            f"({result['probes']} probes, {result['missing']} not seen)"
        )
        rss = result["rss"]
        if rss:
            tail = [mib for at, mib in rss if at >= rss[-1][0] / 2]
            print(
                f"worker RSS: first {rss[0][1]:.0f} MiB, max {max(m for _, m in rss):.0f} MiB, "
                f"last {rss[-1][1]:.0f} MiB; second half {min(tail):.0f}..{max(tail):.0f} MiB "
                f"over {rss[-1][0]:.0f} s"
            )
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
