"""A throw-away certificate authority for TLS tests: CA, broker and client certificates (PEM)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import Broker, _wait_for_port, free_port

USER, PASSWORD = "gateway", "s3cret-pass"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    server: bool = False,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(directory: Path) -> Pki:
    """Write a CA, a broker certificate for 127.0.0.1/localhost and a client certificate."""
    pem = serialization.Encoding.PEM
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _issue("naila test CA", ca_key, _name("naila test CA"), ca_key, ca=True)
    paths = Pki(
        ca=directory / "ca.pem",
        server_cert=directory / "broker.pem",
        server_key=directory / "broker.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
    )
    paths.ca.write_bytes(ca_cert.public_bytes(pem))
    for subject, cert_path, key_path, server in (
        ("127.0.0.1", paths.server_cert, paths.server_key, True),
        ("naila-gateway", paths.client_cert, paths.client_key, False),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _issue(subject, key, ca_cert.subject, ca_key, server=server)
        cert_path.write_bytes(cert.public_bytes(pem))
        _write_key(key, key_path)
    return paths


def start_tls_broker(directory: Path, pki: Pki) -> Broker:
    """mosquitto with TLS only, client certificates required, passwords, no anonymous clients."""
    if shutil.which("mosquitto_passwd") is None:
        pytest.fail("mosquitto is not installed (scripts/bootstrap installs it)")
    passwords = directory / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, PASSWORD], check=True)
    port = free_port()
    config = directory / "mosquitto-tls.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\n"
        f"cafile {pki.ca}\ncertfile {pki.server_cert}\nkeyfile {pki.server_key}\n"
        "require_certificate true\nallow_anonymous false\n"
        f"password_file {passwords}\nset_tcp_nodelay true\npersistence false\n"
        # As root, mosquitto drops to its own user, which cannot read pytest's private tmp dir.
        + ("user root\n" if os.geteuid() == 0 else "")
    )
    process = subprocess.Popen(["mosquitto", "-c", str(config)])
    _wait_for_port("127.0.0.1", port)
    return Broker("127.0.0.1", port, process, config)
