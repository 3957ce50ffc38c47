"""Why a TLS connection failed, in words that name the setting to fix.

The Kafka and Redis clients report any failed TLS handshake as a generic connection error; one
more handshake, made here, tells the causes apart: a server certificate this process does not
trust, a client certificate the server requires or refuses, a server that does not speak TLS,
or one that does while the settings say plaintext."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from streams.live.environment import KafkaConnection, RedisConnection, tls_context


@dataclass(frozen=True)
class TlsProblem:
    kind: str  # "server-certificate", "client-certificate", "not-tls" or "speaks-tls"
    reason: str


_CLIENT_CERTIFICATE_ALERTS = (
    "CERTIFICATE_REQUIRED",
    "BAD_CERTIFICATE",
    "UNKNOWN_CA",
    "CERTIFICATE_UNKNOWN",
    "UNSUPPORTED_CERTIFICATE",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_REVOKED",
    "ACCESS_DENIED",
)


def _classify(error: ssl.SSLError) -> TlsProblem:
    if isinstance(error, ssl.SSLCertVerificationError):
        return TlsProblem("server-certificate", error.verify_message or str(error.reason))
    reason = str(error.reason or error)
    if any(alert in reason.upper() for alert in _CLIENT_CERTIFICATE_ALERTS):
        return TlsProblem("client-certificate", reason)
    return TlsProblem("not-tls", reason)


async def tls_problem(
    host: str, port: int, context: ssl.SSLContext | None, timeout: float = 5.0
) -> TlsProblem | None:
    """Why TLS to host:port fails with `context`, or None when it works or the server cannot
    be reached at all. With `context=None`, whether the server speaks TLS even though the
    settings say plaintext (a handshake that trusts anything works: "speaks-tls")."""
    plaintext = context is None
    if plaintext:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, ssl=context, server_hostname=host), timeout
        )
    except ssl.SSLError as error:
        return None if plaintext else _classify(error)
    except (OSError, TimeoutError):
        return None
    if plaintext:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
        return TlsProblem("speaks-tls", "a TLS handshake succeeded")
    try:
        # With TLS 1.3 the server checks the client's certificate after the client finished
        # its handshake: a refusal arrives as an alert on the first read. A server that
        # accepted us waits for a request instead (the read times out).
        await asyncio.wait_for(reader.read(1), 1.0)
    except ssl.SSLError as error:
        return _classify(error)
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
    return None


def _host_port(server: str, default_port: int) -> tuple[str, int]:
    host, _, port = server.rpartition(":")
    if not host or not port.isdigit():
        return server.strip("[]"), default_port
    return host.strip("[]"), int(port)


async def kafka_tls_problem(kafka: KafkaConnection) -> str | None:
    """A message naming the setting to fix when a TLS cause explains the failed connection."""
    where = kafka.redacted()
    for server in kafka.servers:
        host, port = _host_port(server, 9092)
        problem = await tls_problem(host, port, kafka.ssl_context())
        if problem is None:
            continue
        if problem.kind == "server-certificate":
            trusted = kafka.ssl_cafile or "unset: the system's CAs"
            return (
                f"Kafka at {where} presented a TLS certificate that is not trusted "
                f"({problem.reason}; CCPULSE_KAFKA_SSL_CAFILE={trusted}): set "
                "CCPULSE_KAFKA_SSL_CAFILE to the CA (PEM) that signed the broker's certificate"
            )
        if problem.kind == "client-certificate":
            if not kafka.ssl_certfile:
                return (
                    f"Kafka at {where} requires a TLS client certificate ({problem.reason}): "
                    "set CCPULSE_KAFKA_SSL_CERTFILE and CCPULSE_KAFKA_SSL_KEYFILE"
                )
            return (
                f"Kafka at {where} refused the TLS client certificate ({problem.reason}): set "
                "CCPULSE_KAFKA_SSL_CERTFILE and CCPULSE_KAFKA_SSL_KEYFILE to a certificate "
                "and key signed by a CA the broker trusts"
            )
        if problem.kind == "not-tls":
            return (
                f"Kafka at {where} does not speak TLS there ({problem.reason}): check "
                "CCPULSE_KAFKA_SECURITY_PROTOCOL (PLAINTEXT or SASL_PLAINTEXT?) and "
                "CCPULSE_KAFKA_BOOTSTRAP"
            )
        return (
            f"Kafka at {where} speaks TLS: set CCPULSE_KAFKA_SECURITY_PROTOCOL to SSL or "
            "SASL_SSL (and CCPULSE_KAFKA_SSL_CAFILE to the CA that signed the broker's "
            "certificate)"
        )
    return None


async def redis_tls_problem(redis: RedisConnection) -> str | None:
    """As `kafka_tls_problem`, for the Redis URL."""
    parts = urlsplit(redis.url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        return None
    where = redis.redacted()
    context = None
    if parts.scheme == "rediss":
        context = tls_context(redis.ssl_cafile, "CCPULSE_REDIS_TLS_CAFILE")
    problem = await tls_problem(parts.hostname, parts.port or 6379, context)
    if problem is None:
        return None
    if problem.kind == "server-certificate":
        trusted = redis.ssl_cafile or "unset: the system's CAs"
        return (
            f"Redis at {where} presented a TLS certificate that is not trusted "
            f"({problem.reason}; CCPULSE_REDIS_TLS_CAFILE={trusted}): set "
            "CCPULSE_REDIS_TLS_CAFILE to the CA (PEM) that signed the server's certificate"
        )
    if problem.kind == "client-certificate":
        return (
            f"Redis at {where} requires a TLS client certificate ({problem.reason}), which "
            "ccpulse does not send: set tls-auth-clients to no (or optional) on the server"
        )
    if problem.kind == "not-tls":
        return (
            f"Redis at {where} does not speak TLS there ({problem.reason}): use a redis:// "
            "URL in CCPULSE_REDIS_URL, or the server's tls-port"
        )
    return (
        f"Redis at {where} speaks TLS: use a rediss:// URL in CCPULSE_REDIS_URL (and "
        "CCPULSE_REDIS_TLS_CAFILE for the CA that signed the server's certificate)"
    )
