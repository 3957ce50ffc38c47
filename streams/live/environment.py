"""Connections, secrets and worker tuning from the environment (never from committed files).

Secrets are kept out of `repr()` and out of logs; `redacted()` gives a loggable description.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from streams.errors import UserError

KAFKA_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def tls_context(
    cafile: str | None,
    cafile_name: str,
    certfile: str | None = None,
    keyfile: str | None = None,
) -> ssl.SSLContext:
    """A client context trusting `cafile` (else the system's CAs), with a client certificate
    when `certfile` is given. Unusable files raise a UserError naming the variable to fix.
    An encrypted key is refused instead of letting OpenSSL prompt for its pass phrase."""
    try:
        context = ssl.create_default_context(cafile=cafile)
    except (ssl.SSLError, OSError) as error:
        raise UserError(
            f"{cafile_name}={cafile}: not a PEM CA certificate file ({_reason(error)})"
        ) from None
    if certfile:
        try:
            context.load_cert_chain(certfile, keyfile, password=_no_pass_phrase)
        except (ssl.SSLError, OSError, _EncryptedKey) as error:
            raise UserError(
                f"CCPULSE_KAFKA_SSL_CERTFILE={certfile} with CCPULSE_KAFKA_SSL_KEYFILE="
                f"{keyfile or '(unset: key in the certificate file)'}: cannot use them as the "
                f"client certificate and key ({_reason(error)}); both must be PEM, the key "
                "unencrypted and matching the certificate"
            ) from None
    return context


class _EncryptedKey(Exception):
    def __str__(self) -> str:
        return "the key is encrypted"


def _no_pass_phrase() -> bytes:
    raise _EncryptedKey


def _reason(error: BaseException) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


@dataclass(frozen=True)
class KafkaConnection:
    bootstrap: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @property
    def servers(self) -> list[str]:
        return [server.strip() for server in self.bootstrap.split(",") if server.strip()]

    def ssl_context(self) -> ssl.SSLContext | None:
        """The client TLS context (None without TLS); a UserError names the file that cannot
        be used."""
        if "SSL" not in self.security_protocol:
            return None
        return tls_context(
            self.ssl_cafile,
            "CCPULSE_KAFKA_SSL_CAFILE",
            self.ssl_certfile,
            self.ssl_keyfile,
        )

    def aiokafka_kwargs(self) -> dict:
        """Security keyword arguments for aiokafka clients."""
        kwargs: dict = {"security_protocol": self.security_protocol}
        context = self.ssl_context()
        if context is not None:
            kwargs["ssl_context"] = context
        if self.security_protocol.startswith("SASL"):
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password,
            )
        return kwargs

    def redacted(self) -> str:
        auth = f" as {self.sasl_username!r}" if self.security_protocol.startswith("SASL") else ""
        return f"{self.bootstrap} ({self.security_protocol}{auth})"


@dataclass(frozen=True)
class RedisConnection:
    url: str = field(default="redis://127.0.0.1:6379/0", repr=False)
    password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None

    def redacted(self) -> str:
        parts = urlsplit(self.url)
        host = parts.hostname or "?"
        netloc = f"{host}:{parts.port}" if parts.port else host
        if parts.password or self.password:
            netloc = f"***@{netloc}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def client_kwargs(self) -> dict:
        kwargs: dict = {}
        if self.password is not None:
            kwargs["password"] = self.password
        if self.ssl_cafile:
            kwargs["ssl_ca_certs"] = self.ssl_cafile
        return kwargs


@dataclass(frozen=True)
class WorkerTuning:
    """Faust/Kafka timings. Defaults suit production; tests lower them through the env."""

    session_timeout: float = 30.0
    heartbeat_interval: float = 3.0
    rebalance_timeout: float = 60.0
    commit_interval: float = 2.8
    batch_max: int = 2000
    batch_within: float = 0.05
    bulk: bool = True  # source batches past Faust's per-message stream path (bulk_consumer)
    kafka_silence: float = 10.0  # no answer from Kafka this long: publishing pauses


@dataclass(frozen=True)
class WorkerEnvironment:
    kafka: KafkaConnection
    redis: RedisConnection
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    state_dir: Path = Path("var/worker")
    app_id: str = "ccpulse"
    replication: int = 1
    log_level: str = "info"
    tuning: WorkerTuning = field(default_factory=WorkerTuning)


def kafka_from_env(env: Mapping[str, str] | None = None) -> KafkaConnection:
    env = os.environ if env is None else env
    protocol = env.get("CCPULSE_KAFKA_SECURITY_PROTOCOL", "PLAINTEXT").upper()
    if protocol not in KAFKA_PROTOCOLS:
        raise UserError(
            f"CCPULSE_KAFKA_SECURITY_PROTOCOL={protocol!r} is not one of "
            f"{', '.join(KAFKA_PROTOCOLS)}"
        )
    mechanism = env.get("CCPULSE_KAFKA_SASL_MECHANISM", "PLAIN").upper()
    if mechanism not in SASL_MECHANISMS:
        raise UserError(
            f"CCPULSE_KAFKA_SASL_MECHANISM={mechanism!r} is not one of {', '.join(SASL_MECHANISMS)}"
        )
    connection = KafkaConnection(
        bootstrap=env.get("CCPULSE_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        security_protocol=protocol,
        sasl_mechanism=mechanism,
        sasl_username=env.get("CCPULSE_KAFKA_SASL_USERNAME") or None,
        sasl_password=env.get("CCPULSE_KAFKA_SASL_PASSWORD") or None,
        ssl_cafile=env.get("CCPULSE_KAFKA_SSL_CAFILE") or None,
        ssl_certfile=env.get("CCPULSE_KAFKA_SSL_CERTFILE") or None,
        ssl_keyfile=env.get("CCPULSE_KAFKA_SSL_KEYFILE") or None,
    )
    if not connection.servers:
        raise UserError("CCPULSE_KAFKA_BOOTSTRAP is empty (set it to host:port[,host:port])")
    if protocol.startswith("SASL") and not (connection.sasl_username and connection.sasl_password):
        raise UserError(
            f"CCPULSE_KAFKA_SECURITY_PROTOCOL={protocol} needs CCPULSE_KAFKA_SASL_USERNAME and "
            "CCPULSE_KAFKA_SASL_PASSWORD"
        )
    names = ("CCPULSE_KAFKA_SSL_CAFILE", "CCPULSE_KAFKA_SSL_CERTFILE", "CCPULSE_KAFKA_SSL_KEYFILE")
    for name in names:
        path = env.get(name)
        if path and not Path(path).is_file():
            raise UserError(f"{name}={path}: no such file")
    if "SSL" not in protocol:
        configured = [name for name in names if env.get(name)]
        if configured:
            # Silently ignoring them would send in plaintext what was meant to go over TLS.
            raise UserError(
                f"{' and '.join(configured)} only apply to TLS, but "
                f"CCPULSE_KAFKA_SECURITY_PROTOCOL={protocol}: set it to SSL or SASL_SSL "
                "(or unset them)"
            )
    elif connection.ssl_keyfile and not connection.ssl_certfile:
        raise UserError(
            "CCPULSE_KAFKA_SSL_KEYFILE is set without CCPULSE_KAFKA_SSL_CERTFILE: set both "
            "for a client certificate"
        )
    connection.ssl_context()  # unusable certificate files fail here, naming the variable
    return connection


def redis_from_env(env: Mapping[str, str] | None = None) -> RedisConnection:
    env = os.environ if env is None else env
    url = env.get("CCPULSE_REDIS_URL", "redis://127.0.0.1:6379/0")
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise UserError(
            "CCPULSE_REDIS_URL must start with redis://, rediss:// (TLS) or unix:// "
            f"(got scheme {urlsplit(url).scheme!r})"
        )
    cafile = env.get("CCPULSE_REDIS_TLS_CAFILE") or None
    if cafile and not Path(cafile).is_file():
        raise UserError(f"CCPULSE_REDIS_TLS_CAFILE={cafile}: no such file")
    if cafile and urlsplit(url).scheme != "rediss":
        # redis-py would fail with a TypeError: only its TLS connections take a CA file.
        raise UserError(
            "CCPULSE_REDIS_TLS_CAFILE only applies to TLS: set CCPULSE_REDIS_URL to a "
            f"rediss:// URL (got {urlsplit(url).scheme}://) or unset it"
        )
    if cafile:
        tls_context(cafile, "CCPULSE_REDIS_TLS_CAFILE")  # not PEM: fail here, naming it
    return RedisConnection(
        url=url, password=env.get("CCPULSE_REDIS_PASSWORD") or None, ssl_cafile=cafile
    )


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float) -> float:
    text = env.get(name)
    if text is None or text == "":
        return default
    try:
        value = kind(text)
    except ValueError:
        raise UserError(f"{name}={text!r} is not a {kind.__name__}") from None
    if value <= 0:
        raise UserError(f"{name}={text!r} must be above 0")
    return value


def worker_from_env(env: Mapping[str, str] | None = None) -> WorkerEnvironment:
    env = os.environ if env is None else env
    defaults = WorkerTuning()
    tuning = WorkerTuning(
        session_timeout=_number(env, "CCPULSE_KAFKA_SESSION_TIMEOUT", defaults.session_timeout),
        heartbeat_interval=_number(
            env, "CCPULSE_KAFKA_HEARTBEAT_INTERVAL", defaults.heartbeat_interval
        ),
        rebalance_timeout=_number(
            env, "CCPULSE_KAFKA_REBALANCE_TIMEOUT", defaults.rebalance_timeout
        ),
        commit_interval=_number(env, "CCPULSE_COMMIT_INTERVAL", defaults.commit_interval),
        batch_max=int(_number(env, "CCPULSE_BATCH_MAX", defaults.batch_max, int)),
        batch_within=_number(env, "CCPULSE_BATCH_WITHIN", defaults.batch_within),
        bulk=env.get("CCPULSE_BULK", "1") != "0",
        kafka_silence=_number(env, "CCPULSE_KAFKA_SILENCE_SECONDS", defaults.kafka_silence),
    )
    return WorkerEnvironment(
        kafka=kafka_from_env(env),
        redis=redis_from_env(env),
        web_host=env.get("CCPULSE_WEB_HOST", "127.0.0.1"),
        web_port=int(_number(env, "CCPULSE_WEB_PORT", 6066, int)),
        state_dir=Path(env.get("CCPULSE_STATE_DIR", "var/worker")),
        app_id=env.get("CCPULSE_APP_ID", "ccpulse"),
        replication=int(_number(env, "CCPULSE_KAFKA_REPLICATION", 1, int)),
        log_level=env.get("CCPULSE_LOG_LEVEL", "info").lower(),
        tuning=tuning,
    )
