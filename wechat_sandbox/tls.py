"""The sandbox's certificates: a CA of its own, a server certificate for loopback, a client certificate per merchant.

微信支付 V2 开发文档, 安全规范 / 证书使用 (API证书): 申请退款 (secapi/pay/refund) and the other secapi
calls need the merchant's API certificate (apiclient_cert.pem and apiclient_key.pem, issued by
WeChat Pay's CA, the merchant id as its CN). WeChat's server asks for it in the TLS handshake; a
client without it does not get through. The sandbox does the same on its TLS port with
certificates it issues itself as it starts, written to one folder for our web and worker to read:

    ca.pem                                the CA (our WECHAT_PAY_CA_BUNDLE in development)
    server-cert.pem, server-key.pem       127.0.0.1, ::1 and localhost
    merchant-<mch_id>-cert.pem, -key.pem  WECHAT_PAY_CERT_PATH and WECHAT_PAY_KEY_PATH

Certificates are made afresh at each start: nothing outside the sandbox trusts this CA.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
CA_FILE = "ca.pem"


@dataclass(frozen=True)
class MerchantCertificate:
    mch_id: str
    cert_path: str
    key_path: str


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "WeChat sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    # Written whole then renamed, so a web process never reads half a file; keys readable by their owner only.
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    if private:
        os.chmod(partial, 0o600)
    os.replace(partial, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


class CertificateAuthority:
    """Issues the sandbox's certificates into `directory` (created if needed); safe to use from several threads."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = _name("WeChat sandbox CA")
        now = datetime.now(UTC)
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(self._name)
            .issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.ca_path = str(self.directory / CA_FILE)
        _write(Path(self.ca_path), self._certificate.public_bytes(serialization.Encoding.PEM))
        self.server_cert_path, self.server_key_path = self._issue(
            "server",
            "127.0.0.1",
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
            alternative_names=[
                x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1")),
            ],
        )
        self._merchants: dict[str, MerchantCertificate] = {}

    def merchant_certificate(self, mch_id: str) -> MerchantCertificate:
        """The merchant's client certificate (CN = mch_id, as WeChat Pay issues them), issued on first request."""
        with self._lock:
            if mch_id not in self._merchants:
                cert_path, key_path = self._issue(
                    f"merchant-{mch_id}", mch_id, usage=ExtendedKeyUsageOID.CLIENT_AUTH, alternative_names=[]
                )
                self._merchants[mch_id] = MerchantCertificate(mch_id=mch_id, cert_path=cert_path, key_path=key_path)
            return self._merchants[mch_id]

    def server_context(self, *, client_certificate: bool = True) -> ssl.SSLContext:
        """TLS with our server certificate; for the secapi port a client certificate from this CA is required.

        The APIv3 port asks for none: APIv3 authenticates each request by its signature instead.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.server_cert_path, self.server_key_path)
        if client_certificate:
            context.load_verify_locations(self.ca_path)
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def _issue(
        self, file_stem: str, common_name: str, *, usage, alternative_names: list[x509.GeneralName]
    ) -> tuple[str, str]:
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.now(UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if alternative_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alternative_names), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        cert_path, key_path = self.directory / f"{file_stem}-cert.pem", self.directory / f"{file_stem}-key.pem"
        _write(key_path, _key_pem(key), private=True)
        _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        return str(cert_path), str(key_path)


def peer_common_name(peer_certificate: dict | None) -> str | None:
    """The CN of a verified client certificate, from ssl.SSLSocket.getpeercert()."""
    for entry in (peer_certificate or {}).get("subject", ()):
        for name, value in entry:
            if name == "commonName":
                return value
    return None
