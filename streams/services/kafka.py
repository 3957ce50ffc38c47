"""One local Kafka node in KRaft mode (broker and controller in one JVM) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import ssl
import subprocess
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from streams.services.kafka_dist import KafkaDistribution
from streams.services.process import (
    ManagedService,
    ServiceError,
    free_ports,
    log_tail,
    port_accepts,
)

DEFAULT_BROKER_PORT = 9092
DEFAULT_CONTROLLER_PORT = 9093
DEFAULT_HEAP = "512m"
# Same as `Settings.partitions`: topics a producer auto-creates get the partition count the
# worker expects, so the co-partitioned call topics line up whoever creates them first.
DEFAULT_PARTITIONS = 4
_NODE_ID = 1
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


@dataclass(frozen=True)
class BrokerTls:
    """TLS for the client listener, from PEM files (no keytool, no JKS).

    `certfile`: the broker's certificate (chain); its subjectAltName must name 127.0.0.1,
    since clients check it. It should also allow clientAuth: the broker connects to itself
    with it (inter-broker listener) and so does `probe`. `keyfile`: its unencrypted PKCS#8
    key. `cafile`: the CA the probe trusts, and with `client_auth` the CA client
    certificates must be signed by (`ssl.client.auth=required`).
    """

    certfile: Path | str
    keyfile: Path | str
    cafile: Path | str
    client_auth: bool = False

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.cafile))
        context.load_cert_chain(str(self.certfile), str(self.keyfile))
        return context


def java_executable() -> str:
    """`$JAVA_HOME/bin/java`, else `java` on PATH; ServiceError naming the fix if neither."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and Path(java_home, "bin", "java").is_file():
        return str(Path(java_home, "bin", "java"))
    found = shutil.which("java")
    if found is None:
        raise ServiceError(
            "java not found: install Java 17 (`apt-get install -y openjdk-17-jre-headless`)"
        )
    return found


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes, URL-safe base64 without padding (Kafka's Uuid)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids these: they read like a CLI flag
            return text


def class_archive_path(distribution: KafkaDistribution, java: str) -> Path:
    """Where the broker's AppCDS class archive for this JVM and these jars lives.

    The archive maps the broker's ~10k loaded classes instead of parsing them from jars at
    every start (about 30 % faster starts). It is only valid for the JVM build that wrote it,
    so the name carries the JVM's identity; a stale or damaged archive is ignored by the JVM.
    """
    real_java = Path(java).resolve()
    identity = f"{real_java}:{real_java.stat().st_mtime_ns}".encode()
    return distribution.home / f"broker-{hashlib.sha256(identity).hexdigest()[:12]}.jsa"


class KafkaBroker(ManagedService):
    """A single-node KRaft cluster whose data lives under `data_dir` (kept across restarts)."""

    name = "kafka"
    start_timeout = 120.0
    stop_timeout = 30.0

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = DEFAULT_BROKER_PORT,
        controller_port: int = DEFAULT_CONTROLLER_PORT,
        heap: str = DEFAULT_HEAP,
        partitions: int = DEFAULT_PARTITIONS,
        auto_create_topics: bool = True,
        distribution: KafkaDistribution | None = None,
        bind_to_parent: bool = True,
        sasl_users: Mapping[str, str] | None = None,
        sasl_mechanism: str = "PLAIN",
        tls: BrokerTls | None = None,
    ) -> None:
        super().__init__(data_dir, bind_to_parent=bind_to_parent)
        self.host = "127.0.0.1"
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.partitions = partitions
        self.auto_create_topics = auto_create_topics
        self.distribution = distribution or KafkaDistribution()
        # When set, the JVM writes its class archive here on exit (see `build_class_archive`).
        self.class_archive_out: Path | None = None
        # username -> password: clients must log in with SASL (`sasl_mechanism`: PLAIN, or
        # SCRAM-SHA-256/512 whose credentials are stored when the storage is formatted); the
        # first user is the broker's own. For tests of secured clients, on loopback.
        self.sasl_users = dict(sasl_users or {})
        if sasl_mechanism not in SASL_MECHANISMS:
            raise ServiceError(
                f"sasl_mechanism {sasl_mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}"
            )
        self.sasl_mechanism = sasl_mechanism
        # With `tls` the client listener speaks TLS (SSL, or SASL_SSL with `sasl_users`).
        self.tls = tls
        self.client_protocol = ("SASL_" if self.sasl_users else "") + (
            "PLAINTEXT" if tls is None else "SSL"
        )

    @property
    def bootstrap(self) -> str:
        """`host:port` for clients (CCPULSE_KAFKA_BOOTSTRAP)."""
        return f"{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return self.bootstrap

    @property
    def config_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def keystore_file(self) -> Path:
        """With `tls`: the broker's key and certificate chain in one PEM file (mode 0600)."""
        return self.data_dir / "keystore.pem"

    @property
    def server_log(self) -> Path:
        """The broker's own log4j log (its stdout goes to `log_file`)."""
        return self.data_dir / "logs" / "server.log"

    def server_properties(self) -> str:
        voters = f"{_NODE_ID}@{self.host}:{self.controller_port}"
        settings = {
            "process.roles": "broker,controller",
            "node.id": str(_NODE_ID),
            "controller.quorum.voters": voters,
            "listeners": f"{self.client_protocol}://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"{self.client_protocol}://{self.host}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": self.client_protocol,
            "listener.security.protocol.map": (
                f"CONTROLLER:PLAINTEXT,{self.client_protocol}:{self.client_protocol}"
            ),
            "log.dirs": str(self.data_dir / "data"),
            "num.partitions": str(self.partitions),
            "auto.create.topics.enable": str(self.auto_create_topics).lower(),
            # One node: internal topics cannot have more replicas than that.
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            # A handful of internal partitions instead of 50: the first consumer group on a
            # fresh broker is ready in about a second instead of several.
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.num.partitions": "4",
            "group.initial.rebalance.delay.ms": "0",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.retention.hours": "24",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        if self.sasl_users:
            (broker_user, broker_password), *_ = self.sasl_users.items()
            mechanism = self.sasl_mechanism
            prefix = f"listener.name.{self.client_protocol.lower()}.{mechanism.lower()}"
            if mechanism == "PLAIN":
                logins = " ".join(f'user_{user}="{word}"' for user, word in self.sasl_users.items())
                jaas = (
                    "org.apache.kafka.common.security.plain.PlainLoginModule required "
                    f'username="{broker_user}" password="{broker_password}" {logins};'
                )
            else:  # SCRAM: the users' salted credentials are in the metadata (format time)
                jaas = (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required "
                    f'username="{broker_user}" password="{broker_password}";'
                )
            settings |= {
                "sasl.enabled.mechanisms": mechanism,
                "sasl.mechanism.inter.broker.protocol": mechanism,
                f"{prefix}.sasl.jaas.config": jaas,
            }
        if self.tls is not None:
            settings |= {
                "ssl.keystore.type": "PEM",
                "ssl.keystore.location": str(self.keystore_file),
                "ssl.truststore.type": "PEM",
                "ssl.truststore.location": str(Path(self.tls.cafile).resolve()),
                "ssl.client.auth": "required" if self.tls.client_auth else "none",
                "ssl.endpoint.identification.algorithm": "https",
            }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def log4j_properties(self) -> str:
        return (
            "log4j.rootLogger=INFO, file\n"
            "log4j.appender.file=org.apache.log4j.RollingFileAppender\n"
            f"log4j.appender.file.File={self.server_log}\n"
            "log4j.appender.file.MaxFileSize=10MB\n"
            "log4j.appender.file.MaxBackupIndex=3\n"
            "log4j.appender.file.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            # Per-request and state-change chatter drowns what matters in a dev log.
            "log4j.logger.kafka.request.logger=WARN\n"
            "log4j.logger.state.change.logger=WARN\n"
            "log4j.logger.kafka.controller=INFO\n"
            "log4j.logger.org.apache.kafka.controller=INFO\n"
        )

    def prepare(self) -> None:
        self.distribution.ensure()
        (self.data_dir / "logs").mkdir(parents=True, exist_ok=True)
        # Owner-only before anything is written: it holds the SASL passwords when there are any.
        self.config_file.touch(mode=0o600)
        self.config_file.chmod(0o600)
        self.config_file.write_text(self.server_properties())
        if self.tls is not None:
            self.keystore_file.touch(mode=0o600)
            self.keystore_file.chmod(0o600)
            self.keystore_file.write_text(
                Path(self.tls.keyfile).read_text().rstrip("\n")
                + "\n"
                + Path(self.tls.certfile).read_text()
            )
        (self.data_dir / "log4j.properties").write_text(self.log4j_properties())
        if not (self.data_dir / "data" / "meta.properties").exists():
            self._format_storage()

    def _java_command(self, main_class: str, *args: str, one_shot: bool = False) -> list[str]:
        if one_shot:
            # A short-lived tool: the quick-starting JIT tier and GC save about a second.
            memory = ["-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
        else:
            memory = [f"-Xmx{self.heap}", "-Xms128m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20"]
            memory += self._class_archive_flags()
        return [
            java_executable(),
            *memory,
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.data_dir / 'log4j.properties'}",
            f"-Dkafka.logs.dir={self.data_dir / 'logs'}",
            "-cp",
            self.distribution.classpath,
            main_class,
            *args,
        ]

    def _class_archive_flags(self) -> list[str]:
        if self.class_archive_out is not None:
            return [f"-XX:ArchiveClassesAtExit={self.class_archive_out}"]
        archive = class_archive_path(self.distribution, java_executable())
        return [f"-XX:SharedArchiveFile={archive}"] if archive.is_file() else []

    def _scram_arguments(self) -> list[str]:
        """`--add-scram` for each SASL user when the mechanism is SCRAM (KRaft keeps SCRAM
        credentials in its metadata, which the storage format seeds). The tool takes them only
        on its command line, so they show in the process list for the second it runs: fine for
        the made-up passwords of a loopback test broker, which is what this is for."""
        if not self.sasl_users or not self.sasl_mechanism.startswith("SCRAM"):
            return []
        arguments = []
        for user, password in self.sasl_users.items():
            for text in (user, password):
                if any(char in text for char in '",[]=\\') or not text:
                    raise ServiceError(
                        "SCRAM user names and passwords here must be non-empty and without "
                        'quotes, commas, brackets, "=" or backslashes'
                    )
            arguments += [
                "--add-scram",
                f'{self.sasl_mechanism}=[name="{user}",password="{password}"]',
            ]
        return arguments

    def _format_storage(self) -> None:
        scram = self._scram_arguments()
        command = self._java_command(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            new_cluster_id(),
            "--config",
            str(self.config_file),
            "--ignore-formatted",
            *scram,
            one_shot=True,
        )
        result = subprocess.run(
            command, cwd=self.data_dir, capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            output = (result.stdout + result.stderr)[-3000:]
            for password in self.sasl_users.values() if scram else ():
                output = output.replace(password, "***")
            raise ServiceError(
                f"kafka storage format failed (exit {result.returncode}) in {self.data_dir}:\n"
                + output
            )

    def ports(self) -> list[int]:
        return [self.port, self.controller_port]

    @property
    def process_marker(self) -> str:
        return str(self.config_file)

    def command(self) -> list[str]:
        return self._java_command("kafka.Kafka", str(self.config_file))

    def probe(self) -> bool:
        if not port_accepts(self.host, self.port):
            return False
        # aiokafka needs an event loop; run it in a thread so callers inside a running loop
        # (async tests, the worker) can use this too.
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._metadata_has_broker()).result()

    async def _metadata_has_broker(self) -> bool:
        from aiokafka import AIOKafkaClient
        from aiokafka.errors import KafkaError

        login: dict = {"security_protocol": self.client_protocol}
        if self.sasl_users:
            ((user, password), *_) = self.sasl_users.items()
            login |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": user,
                "sasl_plain_password": password,
            }
        if self.tls is not None:
            login["ssl_context"] = self.tls.client_context()
        client = AIOKafkaClient(bootstrap_servers=self.bootstrap, request_timeout_ms=3000, **login)
        quiet = logging.getLogger("aiokafka")
        previous_level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # refused connections while it boots are expected
        try:
            await client.bootstrap()
            # A KRaft broker lists itself only once it is registered and unfenced.
            return bool(client.cluster.brokers())
        except (KafkaError, OSError):
            return False
        finally:
            await client.close()
            quiet.setLevel(previous_level)

    def diagnostics(self) -> str:
        # The JVM's own complaints go to stdout; the broker's errors go to log4j's file.
        return (
            f"see {self.log_file} and {self.server_log}:\n"
            f"{log_tail(self.log_file, 10)}\n{log_tail(self.server_log, 20)}".rstrip()
        )


def build_class_archive(distribution: KafkaDistribution | None = None) -> Path | None:
    """Start and stop a throw-away broker once so the JVM records its class archive.

    Returns the archive path, or None if it could not be built (starts then just take the
    ordinary, slower path). A no-op when the archive already exists.
    """
    distribution = distribution or KafkaDistribution()
    distribution.ensure()
    archive = class_archive_path(distribution, java_executable())
    if archive.is_file():
        return archive
    with (distribution.home / ".archive.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.is_file():
            return archive
        partial = archive.with_name(f"{archive.name}.partial-{os.getpid()}")
        with tempfile.TemporaryDirectory(prefix="ccpulse-kafka-cds-") as scratch:
            port, controller_port = free_ports(2)
            broker = KafkaBroker(
                scratch, port=port, controller_port=controller_port, distribution=distribution
            )
            broker.class_archive_out = partial
            try:
                with broker:
                    pass
            except ServiceError:
                partial.unlink(missing_ok=True)
                return None
        if not partial.is_file() or partial.stat().st_size == 0:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
            return None
        partial.replace(archive)
    return archive
