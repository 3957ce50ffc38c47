"""Live worker speed: throughput against a bare consumer, produce->Redis latency, memory.

    .venv/bin/python benchmarks/bench_worker.py [--events 400000] [--latency-seconds 60]
        [--publish-interval 1.0] [--skip-throughput] [--lateness S] [--trace-memory OUT.jsonl]

Starts its own Kafka (KRaft) and redis-server on free loopback ports (streams.services).

1. Throughput: N synthetic events (50 queues, 500 agents, times in the last minute) are
   produced to the topics first. Then, in the same run, a bare aiokafka consumer reads them as
   fast as it can (the ceiling: fetch only, no decoding), and one `ccpulse worker` subprocess
   (fresh consumer group) processes them; its rate is N / (time from ready to the last event
   handled, polled on /healthz at 20 Hz).
2. Latency: a fresh worker; events paced at `--rate` (default 2,000/s, times = now) for
   `--latency-seconds`, including a probe `call.offered` for queue `bench-probe` every 100 ms.
   A subscriber on `ccpulse:updates` sees when the probe count reaches k; latency of probe k =
   that moment minus its send time. Includes the coalescing wait (publish_interval). Two
   subscribers see the same messages: one in a process of its own that stamps each message as
   it is read (`apart`), and one on the benchmark's event loop beside the paced producer
   (`loop`, the only one before 2026-11-29); both are reported.
3. Memory: the worker's RSS (/proc) sampled every 5 s during the paced run, printed every
   `--rss-every` s, with its slope (MiB/min) once the dedupe horizon has filled (the engine
   keeps every event id for `allowed_lateness_seconds`, 300 s by default; `--lateness`
   shortens it for quicker soak checks). `--trace-memory OUT.jsonl` runs that worker under
   benchmarks/memtrace.py (tracemalloc, malloc statistics; see there).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import json
import multiprocessing
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
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, TopicPartition

from streams.adapters.kafka_producer import make_producer, route_event
from streams.config import load_settings
from streams.live.environment import KafkaConnection
from streams.live.preflight import ensure_topics
from streams.services import KafkaBroker, RedisServer, free_ports
from streams.synthetic import call_cycle_events

CCPULSE = str(Path(sys.executable).parent / "ccpulse")
MEMTRACE = Path(__file__).resolve().parent / "memtrace.py"


def write_config(
    path: Path, prefix: str, publish_interval: float, lateness: float | None = None
) -> Path:
    topics = "\n".join(
        [
            f'{name} = "{prefix}.call.{name}"'
            for name in ("offered", "answered", "abandoned", "wrapup")
        ]
        + [f'agent_state = "{prefix}.agent.state"', f'dead_letter = "{prefix}.dead-letter"']
    )
    settings = f"publish_interval_seconds = {publish_interval}\n"
    if lateness is not None:
        settings += f"allowed_lateness_seconds = {lateness:g}\n"
    path.write_text(f"{settings}[topics]\n{topics}\n")
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
    def __init__(
        self, directory: Path, config: Path, env: dict[str, str], trace: bool = False
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port = free_ports(1)[0]
        self.log = (directory / "worker.log").open("wb")
        # --trace-memory: the same worker under benchmarks/memtrace.py (tracemalloc + mallinfo)
        command = [sys.executable, str(MEMTRACE)] if trace else [CCPULSE]
        if trace:
            env = {"CCPULSE_MEMTRACE_DIR": str(directory), **env}
        self.process = subprocess.Popen(
            [*command, "worker", "--config", str(config)],
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
            if probe > 1:
                # The previous probe call hangs up: probe calls must not pile up as waiting
                # calls (each would be kept for max_wait_seconds, 4 h: a memory growth of the
                # benchmark's own making). The probe count read is `offered`, unaffected.
                event = {
                    "type": "call.abandoned",
                    "event_id": f"probe-gone-{probe - 1}",
                    "ts": now,
                    "call_id": f"probe-{probe - 1}",
                    "queue": "bench-probe",
                    "wait_seconds": 0.1,
                }
                yield now, orjson.dumps(event), None
        yield None, None, None  # let the caller sleep


def probe_publish(data: bytes, received: float) -> tuple[float, int, float] | None:
    """(as_of, probes counted, received) of one `ccpulse:updates` message, or None if it does
    not carry the probe queue yet."""
    snapshot = orjson.loads(data)
    queue = snapshot["queues"].get("bench-probe")
    if queue is None:
        return None
    as_of = datetime.fromisoformat(snapshot["as_of"]).timestamp()
    return as_of, queue["windows"]["today"]["offered"], received


def listen_apart(redis_url: str, ready: Any, stop: Any, results: Any) -> None:
    """A subscriber in a process of its own: each message is stamped when it is read from the
    socket, not when the benchmark's event loop (which also paces 2,000 events/s through a
    Python producer) gets round to it. Parsing waits until the stamp is taken."""
    import redis

    pubsub = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("ccpulse:updates")
    pubsub.get_message(timeout=1.0)  # the subscribe confirmation
    ready.set()
    received: list[tuple[bytes, float]] = []
    while not stop.is_set():
        message = pubsub.get_message(timeout=0.1)
        if message is not None and message["type"] == "message":
            received.append((message["data"], time.time()))
    publishes = [probe_publish(data, at) for data, at in received]
    results.send([p for p in publishes if p is not None])
    results.close()


def seen_times(publishes: list[tuple[float, int, float]]) -> dict[int, float]:
    """When each probe was first seen: a publish that counts k probes shows probes up to k."""
    seen_at: dict[int, float] = {}
    best = 0
    for _, count, received in publishes:  # in order of receipt
        for probe in range(best + 1, count + 1):
            seen_at[probe] = received
        best = max(best, count)
    return seen_at


def latency_summary(
    sent_at: dict[int, float], publishes: list[tuple[float, int, float]], debug: bool = False
) -> dict:
    seen_at = seen_times(publishes)
    if debug and sent_at:
        first = min(sent_at.values())
        for p in sorted(sent_at):
            if p in seen_at and seen_at[p] - sent_at[p] > 0.8:
                print(
                    f"  slow probe {p} sent +{sent_at[p] - first:.2f}s: "
                    f"{(seen_at[p] - sent_at[p]) * 1000:.0f} ms"
                )
    latencies = sorted(seen_at[p] - sent_at[p] for p in sent_at if p in seen_at)
    return {
        "probes": len(sent_at),
        "missing": len(sent_at) - len(latencies),
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "max": latencies[-1],
        "over_1s": sum(1 for v in latencies if v > 1.0) / len(latencies),
        "parts": latency_parts(sent_at, publishes),
    }


async def latency_run(
    kafka: KafkaConnection,
    redis_url: str,
    worker: Worker,
    topics: dict,
    rate: float,
    seconds: float,
) -> dict:
    """Both listeners see the same publishes: `loop` (a subscriber on the benchmark's own
    event loop, as before 2026-11-29) and `apart` (`listen_apart`, its own process)."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    results, results_in = context.Pipe(duplex=False)
    apart = context.Process(target=listen_apart, args=(redis_url, ready, stop, results_in))
    apart.start()
    if not ready.wait(30):
        raise SystemExit("the separate listener did not subscribe")
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.subscribe("ccpulse:updates")
    sent_at: dict[int, float] = {}
    rss: list[tuple[float, float]] = []
    publishes: list[tuple[float, int, float]] = []  # (as_of, probes in it, received) in order

    async def listen() -> None:
        async for message in pubsub.listen():
            if message["type"] != "message":
                continue
            publish = probe_publish(message["data"], time.time())
            if publish is not None:
                publishes.append(publish)

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
        while len(seen_times(publishes)) < len(sent_at) and time.time() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
    finally:
        await producer.stop()
        listener.cancel()
        sampler.cancel()
        await client.aclose()
        stop.set()
    apart_publishes = results.recv() if results.poll(60) else []
    apart.join(10)
    debug = bool(os.environ.get("BENCH_DEBUG"))
    return {
        "loop": latency_summary(sent_at, publishes, debug),
        "apart": latency_summary(sent_at, apart_publishes) if apart_publishes else None,
        "rss": rss,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def latency_parts(sent_at: dict[int, float], publishes: list[tuple[float, int, float]]) -> dict:
    """Split each probe's latency by the publishes of its queue (as_of = when the worker took
    the snapshot): `wait`, from sending to the first snapshot taken after it (the coalescing
    wait, uniform over one publish period however fast the rest is); `missed`, the periods
    lost because the probe was not yet applied when that snapshot was taken (Kafka + fetch +
    batch); `write`, from the snapshot that had it to its arrival on `ccpulse:updates`
    (snapshot, Redis pipeline, pub/sub). Also the gaps between consecutive publishes."""
    publishes = sorted(publishes)
    stamps = [as_of for as_of, _, _ in publishes]
    parts: dict[str, list[float]] = {"wait": [], "missed": [], "write": [], "late": []}
    first_with = 0
    for probe, sent in sorted(sent_at.items()):
        while first_with < len(publishes) and publishes[first_with][1] < probe:
            first_with += 1
        earliest = bisect.bisect_left(stamps, sent)
        if first_with >= len(publishes) or earliest >= len(publishes):
            continue
        as_of, _, received = publishes[first_with]
        parts["wait"].append(stamps[earliest] - sent)
        parts["missed"].append(as_of - stamps[earliest])
        parts["write"].append(received - as_of)
        parts["late"].append(1.0 if as_of > stamps[earliest] else 0.0)
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    summary = {
        name: (statistics.fmean(v), percentile(v, 0.5), percentile(v, 0.99), max(v))
        for name, v in parts.items()
        if v
    }
    if gaps:
        summary["gap"] = (statistics.fmean(gaps), percentile(gaps, 0.5), min(gaps), max(gaps))
    return summary


def parts_report(parts: dict) -> str:
    if not parts:
        return "  (no publish carried the probes)"
    lines = []
    for name, label in (
        ("wait", "coalescing wait (send -> next snapshot)"),
        ("missed", "missed snapshots (not yet applied)"),
        ("write", "snapshot -> message received"),
    ):
        if name in parts:
            mean, p50, p99, top = parts[name]
            lines.append(
                f"  {label}: mean {mean * 1000:.0f} ms, p50 {p50 * 1000:.0f} ms, "
                f"p99 {p99 * 1000:.0f} ms, max {top * 1000:.0f} ms"
            )
    if "late" in parts:
        lines.append(f"  probes that missed the first snapshot after them: {parts['late'][0]:.1%}")
    if "gap" in parts:
        mean, p50, low, top = parts["gap"]
        lines.append(
            f"  time between publishes (as_of): mean {mean * 1000:.1f} ms, median "
            f"{p50 * 1000:.1f} ms, min {low * 1000:.1f} ms, max {top * 1000:.1f} ms"
        )
    return "\n".join(lines)


def rss_slope(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) samples, in MiB per minute."""
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread


def memory_report(
    rss: list[tuple[float, float]], horizon: float, every: float, settle: float = 60.0
) -> str:
    """RSS every `every` s, and its slope once the dedupe horizon (`horizon` s of event ids)
    has filled, leaving out the first `settle` s after it: once ids start to be deleted,
    CPython re-sizes the state table's dicts once more (at 2,000 events/s, about 50 s after
    the horizon, to 2^21 slots for 600,000 ids: +29 MiB for the two dicts), then they stay."""
    if not rss:
        return "worker RSS: no samples"
    lines = ["worker RSS (MiB) by seconds since the paced run started:"]
    row, mark = [], 0.0
    for at, mib in rss:
        if at + 1e-6 >= mark:
            row.append(f"{at:4.0f} s {mib:6.1f}")
            mark += every
    lines += ["  " + "  ".join(row[i : i + 6]) for i in range(0, len(row), 6)]
    peak = max(m for _, m in rss)
    lines.append(f"  first {rss[0][1]:.1f}, max {peak:.1f}, last {rss[-1][1]:.1f} MiB")
    steady = [(at, mib) for at, mib in rss if at >= horizon + settle]
    if len(steady) >= 3:
        span = steady[-1][0] - steady[0][0]
        lines.append(
            f"  after the dedupe horizon ({horizon:g} s + {settle:g} s): {steady[0][1]:.1f} -> "
            f"{steady[-1][1]:.1f} MiB over {span:.0f} s, slope {rss_slope(steady):+.2f} MiB/min "
            f"(least squares over {len(steady)} samples)"
        )
    else:
        lines.append(f"  the run ended before the dedupe horizon ({horizon:g} s) + {settle:g} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--latency-seconds", type=float, default=60.0)
    parser.add_argument("--publish-interval", type=float, default=1.0)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--lateness",
        type=float,
        help="allowed_lateness_seconds of the paced run (default: the config's 300): the "
        "dedupe horizon, after which the worker's memory should be flat",
    )
    parser.add_argument(
        "--rss-every", type=float, default=30.0, help="print the worker's RSS every N s"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="seconds after the dedupe horizon left out of the RSS slope (default 60)",
    )
    parser.add_argument(
        "--trace-memory",
        type=Path,
        metavar="JSONL",
        help="run the paced worker under benchmarks/memtrace.py (tracemalloc: slower) and "
        "copy its samples here",
    )
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
            topics = settings.topics.by_event_type()
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
        config = write_config(workdir / "lat.toml", "lat", args.publish_interval, args.lateness)
        settings = load_settings(config)
        asyncio.run(ensure_topics(kafka, settings, []))
        topics = settings.topics.by_event_type()
        worker = Worker(
            workdir / "latency",
            config,
            {**env, "CCPULSE_APP_ID": "bench-lat"},
            trace=args.trace_memory is not None,
        )
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
            f"publish_interval {args.publish_interval} s:"
        )
        for view, label in (
            ("apart", "received by a listener in its own process (stamped at receipt)"),
            ("loop", "received on the benchmark's event loop (beside the paced producer)"),
        ):
            summary = result[view]
            if summary is None:
                print(f"{label}: no messages")
                continue
            print(
                f"{label}:\n  p50 {summary['p50'] * 1000:.0f} ms, "
                f"p99 {summary['p99'] * 1000:.0f} ms, max {summary['max'] * 1000:.0f} ms, "
                f"over 1 s {summary['over_1s']:.2%} ({summary['probes']} probes, "
                f"{summary['missing']} not seen)"
            )
            print(parts_report(summary["parts"]))
        horizon = settings.allowed_lateness_seconds
        print(memory_report(result["rss"], horizon, args.rss_every, args.settle))
        if args.trace_memory:
            shutil.copyfile(workdir / "latency" / "memtrace.jsonl", args.trace_memory)
            print(f"memory trace: {args.trace_memory}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
