"""A local redis-server (Debian's package) on 127.0.0.1, without persistence.

The configuration goes to redis-server on stdin (`redis-server -`), so an optional password
(`requirepass`) never lands in a file or in the process list. With `tls` it accepts only TLS
connections (`rediss://`; Debian's redis-server is built with TLS).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from streams.services.process import ManagedService, ServiceError, port_accepts

DEFAULT_PORT = 6379
PASSWORD_ENV = "CCPULSE_REDIS_PASSWORD"


def redis_executable() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise ServiceError(
            "redis-server not found: install it with `apt-get install -y redis-server`"
        )
    return found


@dataclass(frozen=True)
class RedisTls:
    """PEM files for a TLS-only server: its certificate (subjectAltName 127.0.0.1), its key,
    and the CA clients trust (the probe uses it). Clients need no certificate of their own."""

    certfile: Path | str
    keyfile: Path | str
    cafile: Path | str


class RedisServer(ManagedService):
    """redis-server as a child process; its pidfile and log live under `data_dir`."""

    name = "redis"
    start_timeout = 20.0
    stop_timeout = 10.0

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int = DEFAULT_PORT,
        password: str | None = None,
        bind_to_parent: bool = True,
        tls: RedisTls | None = None,
    ) -> None:
        super().__init__(data_dir, bind_to_parent=bind_to_parent)
        self.host = "127.0.0.1"
        self.port = port
        self.password = password or None
        self.tls = tls

    @property
    def scheme(self) -> str:
        return "redis" if self.tls is None else "rediss"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """`redis://` URL for clients (CCPULSE_REDIS_URL), with the password if one is set."""
        auth = f":{self.password}@" if self.password else ""
        return f"{self.scheme}://{auth}{self.host}:{self.port}/0"

    @property
    def display_url(self) -> str:
        """`url` with the password masked, for logs and terminals."""
        auth = ":***@" if self.password else ""
        return f"{self.scheme}://{auth}{self.host}:{self.port}/0"

    @property
    def pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    def config_text(self) -> str:
        if self.tls is None:
            ports = [f"port {self.port}"]
        else:
            ports = [
                "port 0",  # no plaintext listener
                f"tls-port {self.port}",
                f'tls-cert-file "{_quote(str(Path(self.tls.certfile).resolve()))}"',
                f'tls-key-file "{_quote(str(Path(self.tls.keyfile).resolve()))}"',
                f'tls-ca-cert-file "{_quote(str(Path(self.tls.cafile).resolve()))}"',
                "tls-auth-clients no",
            ]
        lines = [
            f"bind {self.host}",
            *ports,
            "protected-mode yes",
            "daemonize no",
            f"pidfile {self.pidfile}",
            f"dir {self.data_dir}",
            'logfile ""',  # stdout, which goes to `log_file`
            # Snapshots are rebuilt from Kafka; nothing here needs to survive a restart.
            'save ""',
            "appendonly no",
            "databases 16",
        ]
        if self.password:
            lines.append(f'requirepass "{_quote(self.password)}"')
        return "\n".join(lines) + "\n"

    def ports(self) -> list[int]:
        return [self.port]

    @property
    def process_marker(self) -> str:
        # redis-server retitles itself "redis-server 127.0.0.1:<port>".
        return f"redis-server {self.address}"

    def command(self) -> list[str]:
        return [redis_executable(), "-"]

    def stdin_text(self) -> str:
        return self.config_text()

    def probe(self) -> bool:
        if not port_accepts(self.host, self.port):
            return False
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        tls = {} if self.tls is None else {"ssl": True, "ssl_ca_certs": str(self.tls.cafile)}
        client = redis.Redis(
            host=self.host,
            port=self.port,
            password=self.password,
            **tls,
            socket_timeout=1.0,
            socket_connect_timeout=1.0,
            # The caller polls; redis-py's default retries would hide a wrong password for ~4 s.
            retry=Retry(NoBackoff(), 0),
        )
        try:
            return bool(client.ping())
        except redis.AuthenticationError as error:
            raise ServiceError(
                f"redis on {self.address} rejects the configured password"
            ) from error
        except redis.RedisError:
            return False
        finally:
            client.close()


def _quote(value: str) -> str:
    # redis.conf double-quoted strings understand backslash escapes.
    return value.replace("\\", "\\\\").replace('"', '\\"')
