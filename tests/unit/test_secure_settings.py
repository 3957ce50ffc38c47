"""TLS and SASL settings from the environment become the right client options, and unusable
ones fail at once with a UserError naming the variable (instead of a traceback, a silent
plaintext connection, or OpenSSL prompting for a pass phrase). The preflight's TLS diagnosis
names the setting to fix, checked against small in-process TLS servers."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from integration.tls_support import Pki, make_pki

from streams.adapters.redis_publisher import check_reachable
from streams.adapters.tls_diagnosis import kafka_tls_problem, tls_problem
from streams.errors import UserError
from streams.live.app import faust_credentials
from streams.live.environment import kafka_from_env, redis_from_env, worker_from_env


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def ssl_env(pki: Pki, **extra: str) -> dict[str, str]:
    return {
        "CCPULSE_KAFKA_SECURITY_PROTOCOL": "SSL",
        "CCPULSE_KAFKA_SSL_CAFILE": str(pki.ca),
        **extra,
    }


def test_sasl_ssl_scram_settings_reach_aiokafka_and_faust(pki):
    env = {
        "CCPULSE_KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "CCPULSE_KAFKA_SASL_MECHANISM": "scram-sha-512",
        "CCPULSE_KAFKA_SASL_USERNAME": "alice",
        "CCPULSE_KAFKA_SASL_PASSWORD": "s3cret",
        "CCPULSE_KAFKA_SSL_CAFILE": str(pki.ca),
    }
    kafka = kafka_from_env(env)
    kwargs = kafka.aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["sasl_plain_username"] == "alice"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert kwargs["ssl_context"].check_hostname
    assert "s3cret" not in repr(kafka) and "s3cret" not in kafka.redacted()

    credentials = faust_credentials(worker_from_env(env))
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"


def test_ssl_with_a_client_certificate(pki):
    env = ssl_env(
        pki,
        CCPULSE_KAFKA_SSL_CERTFILE=str(pki.client_cert),
        CCPULSE_KAFKA_SSL_KEYFILE=str(pki.client_key),
    )
    kafka = kafka_from_env(env)
    assert kafka.aiokafka_kwargs()["security_protocol"] == "SSL"
    assert faust_credentials(worker_from_env(env)).protocol.value == "SSL"


def test_a_ca_file_that_is_not_pem_names_the_variable(tmp_path, pki):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(UserError, match=r"CCPULSE_KAFKA_SSL_CAFILE=.*not a PEM CA"):
        kafka_from_env(ssl_env(pki, CCPULSE_KAFKA_SSL_CAFILE=str(bogus)))
    with pytest.raises(UserError, match=r"CCPULSE_REDIS_TLS_CAFILE=.*not a PEM CA"):
        redis_from_env(
            {"CCPULSE_REDIS_URL": "rediss://127.0.0.1:6380/0", "CCPULSE_REDIS_TLS_CAFILE": bogus}
        )


def test_an_encrypted_client_key_is_refused_without_a_prompt(tmp_path, pki):
    encrypted = tmp_path / "encrypted.key"
    subprocess.run(
        ["openssl", "pkey", "-in", str(pki.client_key), "-aes256", "-passout", "pass:x",
         "-out", str(encrypted)],
        check=True, capture_output=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    env = ssl_env(
        pki, CCPULSE_KAFKA_SSL_CERTFILE=str(pki.client_cert), CCPULSE_KAFKA_SSL_KEYFILE=encrypted
    )
    with pytest.raises(UserError, match=r"CCPULSE_KAFKA_SSL_KEYFILE=.*encrypted"):
        kafka_from_env(env)


def test_a_key_that_does_not_match_the_certificate_names_both_variables(pki):
    env = ssl_env(
        pki,
        CCPULSE_KAFKA_SSL_CERTFILE=str(pki.client_cert),
        CCPULSE_KAFKA_SSL_KEYFILE=str(pki.server_key),
    )
    with pytest.raises(UserError, match=r"CCPULSE_KAFKA_SSL_CERTFILE=.*CCPULSE_KAFKA_SSL_KEYFILE"):
        kafka_from_env(env)


def test_a_key_without_a_certificate_is_refused(pki):
    with pytest.raises(UserError, match="KEYFILE is set without CCPULSE_KAFKA_SSL_CERTFILE"):
        kafka_from_env(ssl_env(pki, CCPULSE_KAFKA_SSL_KEYFILE=str(pki.client_key)))


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
def test_tls_files_with_a_plaintext_protocol_are_refused(pki, protocol):
    env = {
        **ssl_env(pki),
        "CCPULSE_KAFKA_SECURITY_PROTOCOL": protocol,
        "CCPULSE_KAFKA_SASL_USERNAME": "u",
        "CCPULSE_KAFKA_SASL_PASSWORD": "p",
    }
    with pytest.raises(UserError, match=f"CCPULSE_KAFKA_SSL_CAFILE only apply to TLS.*{protocol}"):
        kafka_from_env(env)


def test_a_redis_ca_file_needs_a_rediss_url(pki):
    # redis-py raised TypeError (unexpected keyword 'ssl_ca_certs') on the first command.
    env = {"CCPULSE_REDIS_URL": "redis://127.0.0.1:6379/0", "CCPULSE_REDIS_TLS_CAFILE": str(pki.ca)}
    with pytest.raises(UserError, match=r"CCPULSE_REDIS_TLS_CAFILE only applies to TLS.*rediss"):
        redis_from_env(env)
    env["CCPULSE_REDIS_URL"] = "rediss://127.0.0.1:6380/0"
    assert redis_from_env(env).client_kwargs() == {"ssl_ca_certs": str(pki.ca)}


# --- the preflight's TLS diagnosis, against in-process servers ---------------------------


@pytest.fixture
def serve() -> Iterator[Callable[..., int]]:
    """Start a loopback server in a thread: TLS with `context` (a blocking handshake, so a
    refused client certificate is answered with an alert, as Kafka and Redis do), or plain
    TCP answering any bytes with `reply`. Returns its port."""
    listeners: list[socket.socket] = []

    def answer(connection: socket.socket, context: ssl.SSLContext | None, reply: bytes) -> None:
        connection.settimeout(5)
        try:
            if context is not None:
                connection = context.wrap_socket(connection, server_side=True)
            if connection.recv(1) and reply:
                connection.sendall(reply)
        except (OSError, ssl.SSLError):
            pass
        finally:
            connection.close()

    def accept(listener: socket.socket, context: ssl.SSLContext | None, reply: bytes) -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return  # closed: the test is over
            threading.Thread(target=answer, args=(connection, context, reply), daemon=True).start()

    def start(context: ssl.SSLContext | None = None, reply: bytes = b"") -> int:
        listener = socket.create_server(("127.0.0.1", 0))
        listeners.append(listener)
        threading.Thread(target=accept, args=(listener, context, reply), daemon=True).start()
        return listener.getsockname()[1]

    yield start
    for listener in listeners:
        listener.close()


def server_context(pki: Pki, require_client_certificate: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.server_cert, pki.server_key)
    if require_client_certificate:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(pki.ca)
    return context


def client_context(pki: Pki, ca: Path, certificate: bool = False) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca)
    if certificate:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    return context


async def test_tls_problem_tells_the_causes_apart(pki, serve):
    tls = serve(server_context(pki))
    mutual = serve(server_context(pki, require_client_certificate=True))
    plain = serve(reply=b"-ERR not TLS\r\n")

    assert await tls_problem("127.0.0.1", tls, client_context(pki, pki.ca)) is None
    untrusted = await tls_problem("127.0.0.1", tls, client_context(pki, pki.other_ca))
    assert untrusted is not None and untrusted.kind == "server-certificate"
    anonymous = await tls_problem("127.0.0.1", mutual, client_context(pki, pki.ca))
    assert anonymous is not None and anonymous.kind == "client-certificate"
    signed = client_context(pki, pki.ca, certificate=True)
    assert await tls_problem("127.0.0.1", mutual, signed) is None
    not_tls = await tls_problem("127.0.0.1", plain, client_context(pki, pki.ca))
    assert not_tls is not None and not_tls.kind == "not-tls"
    speaks = await tls_problem("127.0.0.1", tls, None)
    assert speaks is not None and speaks.kind == "speaks-tls"
    assert await tls_problem("127.0.0.1", plain, None) is None


async def test_kafka_diagnosis_names_the_setting(pki, serve):
    mutual = serve(server_context(pki, require_client_certificate=True))
    bootstrap = f"127.0.0.1:{mutual}"

    untrusted = kafka_from_env(
        ssl_env(pki, CCPULSE_KAFKA_BOOTSTRAP=bootstrap, CCPULSE_KAFKA_SSL_CAFILE=pki.other_ca)
    )
    assert "set CCPULSE_KAFKA_SSL_CAFILE" in await kafka_tls_problem(untrusted)
    anonymous = kafka_from_env(ssl_env(pki, CCPULSE_KAFKA_BOOTSTRAP=bootstrap))
    assert "requires a TLS client certificate" in await kafka_tls_problem(anonymous)
    plaintext = kafka_from_env({"CCPULSE_KAFKA_BOOTSTRAP": bootstrap})
    assert "set CCPULSE_KAFKA_SECURITY_PROTOCOL to SSL" in await kafka_tls_problem(plaintext)


async def test_redis_check_names_the_tls_setting(pki, serve):
    tls = serve(server_context(pki))
    with pytest.raises(UserError, match="use a rediss:// URL in CCPULSE_REDIS_URL"):
        await check_reachable(redis_from_env({"CCPULSE_REDIS_URL": f"redis://127.0.0.1:{tls}/0"}))
    env = {
        "CCPULSE_REDIS_URL": f"rediss://:hunter2@127.0.0.1:{tls}/0",
        "CCPULSE_REDIS_TLS_CAFILE": str(pki.other_ca),
    }
    with pytest.raises(UserError, match="set CCPULSE_REDIS_TLS_CAFILE") as raised:
        await check_reachable(redis_from_env(env))
    assert "hunter2" not in str(raised.value)
