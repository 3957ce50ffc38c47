"""Throw-away certificates for the TLS tests, made with the `openssl` command line tool.

`make_pki(directory)` writes a CA, a server certificate for 127.0.0.1 and localhost (both in
its subjectAltName, usable by servers and, for Kafka's own inter-broker link, as a client) and
a client certificate, all signed by that CA; plus an unrelated second CA whose trust must be
refused. Keys are unencrypted PKCS#8 PEM (what Kafka's PEM keystore reads), mode 0600, and
live only in the test's temporary directory.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

DAYS = "2"


@dataclass(frozen=True)
class Pki:
    ca: Path  # CA certificate (PEM) that signed the server and client certificates
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing here: trusting only it must fail


def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _key(path: Path, cwd: Path) -> Path:
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-out", str(path), cwd=cwd)  # fmt: skip
    path.chmod(0o600)
    return path


def _ca(directory: Path, name: str) -> tuple[Path, Path]:
    key = _key(directory / f"{name}.key", directory)
    cert = directory / f"{name}.pem"
    openssl(
        "req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", DAYS,
        "-subj", f"/CN=ccpulse test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return cert, key


def _signed(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> Path:
    key = _key(directory / f"{name}.key", directory)
    request = directory / f"{name}.csr"
    openssl("req", "-new", "-key", str(key), "-out", str(request),
            "-subj", f"/CN=ccpulse test {name}", cwd=directory)  # fmt: skip
    config = directory / f"{name}.ext"
    config.write_text(extensions)
    cert = directory / f"{name}.pem"
    openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-out", str(cert), "-days", DAYS, "-sha256",
        "-extfile", str(config),
        cwd=directory,
    )  # fmt: skip
    return cert


def make_pki(directory: Path) -> Pki:
    if shutil.which("openssl") is None:
        pytest.skip("openssl command line tool not installed")
    directory.mkdir(parents=True, exist_ok=True)
    ca = _ca(directory, "ca")
    other = _ca(directory, "other-ca")
    common = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n"
    server = _signed(
        directory,
        "server",
        ca,
        common + "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    client = _signed(directory, "client", ca, common + "extendedKeyUsage=clientAuth\n")
    return Pki(
        ca=ca[0],
        server_cert=server,
        server_key=directory / "server.key",
        client_cert=client,
        client_key=directory / "client.key",
        other_ca=other[0],
    )
