"""A throw-away PKI for the simulator: test CA, server certificate and client certificates,
and a SAML signing key for the service provider (koppel) in the demo."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import tempfile
from dataclasses import astuple, dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID_FOR = dt.timedelta(days=3650)  # files are reused between runs; they must not expire


@dataclass(frozen=True, slots=True)
class TLSFiles:
    """Paths of the test PKI's PEM files.

    ``client`` holds the client certificate AND its key in one file, as Basispoort hands them to
    publishers. ``untrusted_client`` is the same kind of file issued by a CA the server does not
    trust (for tests of a refused certificate).
    """

    ca: Path
    server_cert: Path
    server_key: Path
    client: Path
    untrusted_client: Path


def make_test_pki(directory: str | os.PathLike[str]) -> TLSFiles:
    """Create (or reuse, when all are present) the test PKI's files in ``directory``."""
    root = Path(directory)
    files = TLSFiles(
        ca=root / "ca.pem",
        server_cert=root / "server.pem",
        server_key=root / "server-key.pem",
        client=root / "client.pem",
        untrusted_client=root / "untrusted-client.pem",
    )
    if all(path.is_file() for path in astuple(files)):
        return files
    root.mkdir(parents=True, exist_ok=True)
    ca_key, ca_cert = _make_ca("koppel test CA")
    server_key, server_cert = _issue(ca_key, ca_cert, "localhost", server=True)
    client_key, client_cert = _issue(ca_key, ca_cert, "koppel test publisher", server=False)
    stranger_ca_key, stranger_ca = _make_ca("untrusted CA")
    stranger_key, stranger_cert = _issue(stranger_ca_key, stranger_ca, "stranger", server=False)
    _write(files.ca, _cert_pem(ca_cert), public=True)
    _write(files.server_cert, _cert_pem(server_cert), public=True)
    _write(files.server_key, _key_pem(server_key))
    _write(files.client, _cert_pem(client_cert) + _key_pem(client_key))
    _write(files.untrusted_client, _cert_pem(stranger_cert) + _key_pem(stranger_key))
    return files


def make_sp_signing_key(directory: str | os.PathLike[str]) -> Path:
    """A new RSA 2048 key and its self-signed certificate in one PEM file ``sp.pem``, as
    KOPPEL_SSO_SIGNING_KEY wants it (the openssl line in docs/sso.md makes the same)."""
    path = Path(directory) / "sp.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = self_signed(key, "koppel-sp").sign(key, hashes.SHA256())
    _write(path, _key_pem(key) + _cert_pem(cert))
    return path


def client_ssl_context(files: TLSFiles, *, certificate: Path | None = None) -> ssl.SSLContext:
    """An SSL context that trusts the test CA and presents ``certificate`` (default: client)."""
    context = ssl.create_default_context(cafile=str(files.ca))
    context.load_cert_chain(str(certificate or files.client))
    return context


def self_signed(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: str
) -> x509.CertificateBuilder:
    """A certificate of ``key`` issued by itself to ``name``, valid from yesterday for years;
    add extensions, then sign it with ``key``."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _VALID_FOR)
    )


def _make_ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        self_signed(key, name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate, name: str, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + _VALID_FOR)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        names: list[x509.GeneralName] = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return key, builder.sign(ca_key, hashes.SHA256())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, public: bool = False) -> None:
    # Write-then-rename, so a second process never reads half a key; keys stay owner-only.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644 if public else 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
