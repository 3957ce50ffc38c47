"""The Apache Kafka server jars, resolved from Maven Central with Maven and cached.

No tarball, no Docker: a generated pom names the broker artifact (plus a logging binding) and
`mvn dependency:copy-dependencies` copies the whole runtime classpath into
`<cache>/kafka-<version>/lib/`. A stamp file marks a complete copy; when it matches, nothing
runs and nothing touches the network.

Why 3.9.x and not 4.x: Kafka 4.0 removed old protocol versions (KIP-896) and aiokafka 0.14.0,
which faust-streaming 0.15.3 uses, is only tested upstream against 0.11-2.8 brokers; 3.9 still
serves every old version and runs KRaft without ZooKeeper. See README "Local services".
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from streams.services.process import ServiceError

KAFKA_VERSION = "3.9.2"
SCALA_VERSION = "2.13"
# The log4j 1.x API Kafka 3.9 logs through, as shipped in its own distribution's libs/.
SLF4J_BINDING_VERSION = "1.7.36"
RELOAD4J_VERSION = "1.2.25"
DEPENDENCY_PLUGIN_VERSION = "3.6.1"
_STAMP = ".complete"


def cache_root() -> Path:
    """`$CCPULSE_CACHE_DIR`, else `~/.cache/ccpulse`."""
    configured = os.environ.get("CCPULSE_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "ccpulse"


def _pom(version: str) -> str:
    def dependency(group: str, artifact: str, artifact_version: str) -> str:
        return (
            f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
            f"<version>{artifact_version}</version></dependency>\n"
        )

    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0">\n'
        "  <modelVersion>4.0.0</modelVersion>\n"
        "  <groupId>ccpulse.local</groupId>\n"
        "  <artifactId>kafka-runtime</artifactId>\n"
        f"  <version>{version}</version>\n"
        "  <packaging>pom</packaging>\n"
        "  <dependencies>\n"
        + dependency("org.apache.kafka", f"kafka_{SCALA_VERSION}", version)
        + dependency("org.slf4j", "slf4j-reload4j", SLF4J_BINDING_VERSION)
        + dependency("ch.qos.reload4j", "reload4j", RELOAD4J_VERSION)
        + "  </dependencies>\n"
        "  <build><plugins><plugin>\n"
        "    <groupId>org.apache.maven.plugins</groupId>\n"
        "    <artifactId>maven-dependency-plugin</artifactId>\n"
        f"    <version>{DEPENDENCY_PLUGIN_VERSION}</version>\n"
        "  </plugin></plugins></build>\n"
        "</project>\n"
    )


class KafkaDistribution:
    """The broker's classpath for one Kafka version, fetched once into the cache."""

    def __init__(self, version: str = KAFKA_VERSION, cache_dir: Path | None = None) -> None:
        self.version = version
        self.cache_dir = (cache_dir or cache_root()).resolve()
        self.home = self.cache_dir / f"kafka-{version}"
        self.lib_dir = self.home / "lib"
        self._pom_text = _pom(version)
        self._fingerprint = hashlib.sha256(self._pom_text.encode()).hexdigest()

    @property
    def ready(self) -> bool:
        """True when a complete copy of the jars for this exact pom is in the cache."""
        stamp = self.home / _STAMP
        try:
            return stamp.read_text().strip() == self._fingerprint and self.lib_dir.is_dir()
        except OSError:
            return False

    @property
    def classpath(self) -> str:
        return f"{self.lib_dir}/*"

    def ensure(self, timeout: float = 900.0) -> Path:
        """Fetch the jars unless the cache already has them; returns the lib directory."""
        if self.ready:
            return self.lib_dir
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if self.ready:  # another process finished it while we waited for the lock
                return self.lib_dir
            self._fetch(timeout)
        return self.lib_dir

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with (self.home / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _fetch(self, timeout: float) -> None:
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceError(
                "mvn not found: Kafka's jars come from Maven Central through Maven; "
                "install it with `apt-get install -y maven` (./dev does this)"
            )
        pom = self.home / "pom.xml"
        pom.write_text(self._pom_text)
        staging = self.home / f"lib.partial-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn,
            "-B",
            "-q",
            "-f",
            str(pom),
            f"-Dmaven.repo.local={self.cache_dir / 'm2'}",
            f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        try:
            result = subprocess.run(
                command,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise ServiceError(
                f"fetching Kafka {self.version} jars took over {timeout:.0f}s"
            ) from error
        if result.returncode != 0 or not any(staging.glob(f"kafka_{SCALA_VERSION}-*.jar")):
            shutil.rmtree(staging, ignore_errors=True)
            output = (result.stdout + result.stderr).strip().splitlines()[-25:]
            raise ServiceError(
                f"mvn could not fetch Kafka {self.version} from Maven Central "
                f"(exit {result.returncode}); is the network/proxy reachable?\n" + "\n".join(output)
            )
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        staging.rename(self.lib_dir)
        (self.home / _STAMP).write_text(self._fingerprint + "\n")
