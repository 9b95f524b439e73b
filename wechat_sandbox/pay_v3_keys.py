"""WeChat Pay APIv3 keys the sandbox issues each merchant, and the signing and encryption WeChat Pay does with them.

From 微信支付 APIv3 文档 (written here from the documents, not from our product's code, so the sandbox
can catch a bug in it):
- 开发必要参数说明: a v3 merchant holds its API private key (apiclient_key.pem, RSA 2048) and the
  serial number of its API certificate (apiclient_cert.pem), sets a 32-byte APIv3 key, and checks
  WeChat Pay with WeChat Pay's public key (微信支付公钥 pub_key.pem, id PUB_KEY_ID_ + digits) or, for
  merchants from before public keys, with the platform certificates it downloads (平台证书).
- 签名验证 / 应答签名: WeChat Pay signs each answer SHA256withRSA over "TIMESTAMP\\nNONCE\\nBODY\\n"
  and says which key in Wechatpay-Serial (the public key id, or the platform certificate's serial).
- 证书和回调报文解密: certificates and notification resources are AEAD_AES_256_GCM with the APIv3
  key, a 12-byte nonce and associated_data; the ciphertext carries the 16-byte tag at its end.

The sandbox issues every key at registration and writes the merchant's side beside the v2
certificates (tls.py's folder), so our web and worker read them as they read apiclient_cert.pem:

    merchant-<mch_id>-v3-apiclient_key.pem   the merchant API private key
    merchant-<mch_id>-v3-apiclient_cert.pem  its certificate (the serial our requests name)
    merchant-<mch_id>-v3-pub_key.pem         WeChat Pay's public key for this merchant
    merchant-<mch_id>-v3.json                certificate serial, public key id, APIv3 key, the paths
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from wechat_sandbox.state import snapshot_part

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

PUBLIC_KEY = "public_key"
PLATFORM_CERTIFICATE = "platform_certificate"
VERIFICATIONS = (PUBLIC_KEY, PLATFORM_CERTIFICATE)
# 平台证书: valid five years; the sandbox's need only outlive a run.
CERTIFICATE_VALID_DAYS = 5 * 365
APIV3_KEY_ALPHABET = string.ascii_letters + string.digits
ANSWER_TAMPERING = ("bad_signature", "stale_timestamp", "unknown_serial")
BILL_TAMPERING = ("wrong_bill_hash",)


def _rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _certificate(key: rsa.RSAPrivateKey, common_name: str) -> x509.Certificate:
    """A certificate over `key`, as WeChat Pay's CA would issue it (self-signed: nothing checks the chain)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "WeChat sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CERTIFICATE_VALID_DAYS))
        .sign(key, hashes.SHA256())
    )


def certificate_serial(certificate: x509.Certificate) -> str:
    """Upper-case hex, as 证书序列号 is written (and as Wechatpay-Serial and serial_no carry it)."""
    return f"{certificate.serial_number:X}"


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(public_key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001 - any failure to verify is "not signed by this key"
        return False
    return True


def aead_encrypt(apiv3_key: str, plaintext: bytes, associated_data: str) -> dict[str, str]:
    """An encrypted `resource` / `encrypt_certificate` object (AEAD_AES_256_GCM, a fresh 12-character nonce)."""
    nonce = "".join(secrets.choice(APIV3_KEY_ALPHABET) for _ in range(12))
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "nonce": nonce,
        "associated_data": associated_data,
        "ciphertext": base64.b64encode(ciphertext).decode(),
    }


@dataclass
class PlatformCertificate:
    key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate

    @property
    def serial(self) -> str:
        return certificate_serial(self.certificate)

    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class MerchantV3Keys:
    """One merchant's APIv3 keys: what it signs with (we keep only the public half's certificate) and WeChat Pay's."""

    mch_id: str
    apiv3_key: str = field(repr=False)
    merchant_certificate: x509.Certificate
    merchant_key_pem: str = field(repr=False)  # handed to the merchant (the files); never used by the sandbox
    wechatpay_key: rsa.RSAPrivateKey = field(repr=False)
    public_key_id: str
    platform_certificates: list[PlatformCertificate]  # newest last: the one answers are signed with
    verification: str = PUBLIC_KEY
    files: dict[str, str] = field(default_factory=dict)
    # What the control API asked the next answers to suffer (ANSWER_TAMPERING), or the next bill (BILL_TAMPERING).
    # Each with when it was asked for: it spoils only answers to requests received after that.
    answer_tampering: list[tuple[str, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stranger: rsa.RSAPrivateKey | None = field(default=None, repr=False)

    @property
    def merchant_serial(self) -> str:
        return certificate_serial(self.merchant_certificate)

    @property
    def merchant_public_key(self) -> rsa.RSAPublicKey:
        return self.merchant_certificate.public_key()  # type: ignore[return-value]

    def wechatpay_public_key_pem(self) -> str:
        return (
            self.wechatpay_key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def signing_key(self) -> tuple[str, rsa.RSAPrivateKey]:
        """The serial answers name and the key they are signed with, by the merchant's verification mode."""
        if self.verification == PLATFORM_CERTIFICATE:
            with self.lock:
                current = self.platform_certificates[-1]
            return current.serial, current.key
        return self.public_key_id, self.wechatpay_key

    def tamper(self, kind: str, times: int) -> list[str]:
        """Spoil the next `times` answers (or bills) to requests received from now on; the kinds still pending."""
        with self.lock:
            self.answer_tampering.extend([(kind, time.monotonic())] * times)
            return [pending for pending, _ in self.answer_tampering]

    def take_answer_tampering(self, received_at: float, kinds: tuple[str, ...] = ANSWER_TAMPERING) -> str | None:
        """The first tampering of `kinds` asked for before the request was received (at `received_at`,
        time.monotonic()); it is then used up. A request already under way when it was asked for is spared."""
        with self.lock:
            for index, (kind, asked_at) in enumerate(self.answer_tampering):
                if kind in kinds and asked_at <= received_at:
                    return self.answer_tampering.pop(index)[0]
            return None

    def stranger_key(self) -> rsa.RSAPrivateKey:
        """A key WeChat Pay never gave this merchant (answers tampered with "unknown_serial" are signed with it)."""
        with self.lock:
            if self._stranger is None:
                self._stranger = _rsa_key()
            return self._stranger

    def rotate_platform_certificate(self) -> PlatformCertificate:
        """A new platform certificate signs from now on; the old stay listed (证书替换: the overlap period)."""
        key = _rsa_key()
        issued = PlatformCertificate(key=key, certificate=_certificate(key, "Tenpay.com Root CA platform"))
        with self.lock:
            self.platform_certificates.append(issued)
        return issued

    def public(self) -> dict:
        """What the control API shows: ids, serials and where the files are; never a key."""
        return {
            "certificate_serial": self.merchant_serial,
            "wechatpay_public_key_id": self.public_key_id,
            "verification": self.verification,
            "platform_certificate_serials": [certificate.serial for certificate in self.platform_certificates],
            "files": dict(self.files),
        }


def merchant_v3_keys_issue(
    mch_id: str, *, apiv3_key: str | None = None, verification: str = PUBLIC_KEY, directory: Path | None = None
) -> MerchantV3Keys:
    """Issue a merchant's v3 keys; with `directory`, write the merchant's side there (module docstring)."""
    merchant_key = _rsa_key()
    wechatpay_key = _rsa_key()
    platform_key = _rsa_key()
    keys = MerchantV3Keys(
        mch_id=mch_id,
        apiv3_key=apiv3_key or "".join(secrets.choice(APIV3_KEY_ALPHABET) for _ in range(32)),
        merchant_certificate=_certificate(merchant_key, mch_id),
        merchant_key_pem=merchant_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
        wechatpay_key=wechatpay_key,
        # 微信支付公钥ID: "PUB_KEY_ID_" and digits (the merchant id among them).
        public_key_id=f"PUB_KEY_ID_01{mch_id}{secrets.randbelow(10**12):012d}",
        platform_certificates=[
            PlatformCertificate(key=platform_key, certificate=_certificate(platform_key, "Tenpay.com Root CA platform"))
        ],
        verification=verification,
    )
    if directory is not None:
        keys.files = _write_files(keys, Path(directory))
    return keys


def _write(path: Path, text: str, *, private: bool = False) -> None:
    # Whole, then renamed: a web process never reads half a key.
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    if private:
        os.chmod(partial, 0o600)
    os.replace(partial, path)


def _write_files(keys: MerchantV3Keys, directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"merchant-{keys.mch_id}-v3"
    files = {
        "private_key_path": str(directory / f"{stem}-apiclient_key.pem"),
        "certificate_path": str(directory / f"{stem}-apiclient_cert.pem"),
        "wechatpay_public_key_path": str(directory / f"{stem}-pub_key.pem"),
        "description_path": str(directory / f"{stem}.json"),
    }
    _write(Path(files["private_key_path"]), keys.merchant_key_pem, private=True)
    _write(
        Path(files["certificate_path"]),
        keys.merchant_certificate.public_bytes(serialization.Encoding.PEM).decode(),
    )
    _write(Path(files["wechatpay_public_key_path"]), keys.wechatpay_public_key_pem())
    description = {
        "mch_id": keys.mch_id,
        "certificate_serial": keys.merchant_serial,
        "wechatpay_public_key_id": keys.public_key_id,
        "apiv3_key": keys.apiv3_key,
        **{name: path for name, path in files.items() if name != "description_path"},
    }
    _write(Path(files["description_path"]), json.dumps(description, indent=2) + "\n", private=True)
    return files


@snapshot_part("pay_v3_keys")
class PayV3Keys:
    """Each merchant's v3 keys by mch_id; like the merchants, they survive a reset. Use under the lock.

    A snapshot keeps none of them (keys are not written into state files): after a restore, register
    the merchant again and it is issued new ones.
    """

    survives_reset = True

    def __init__(self) -> None:
        self.by_mch_id: dict[str, MerchantV3Keys] = {}

    def forget_passing_state(self) -> None:
        """On reset: keys stay, the control API's pending tampering goes."""
        for keys in self.by_mch_id.values():
            with keys.lock:
                keys.answer_tampering.clear()

    def to_snapshot(self) -> dict:
        return {}

    @classmethod
    def from_snapshot(cls, data: dict) -> PayV3Keys:
        return cls()


def merchant_v3_keys_ensure(
    sandbox: Sandbox, mch_id: str, *, apiv3_key: str | None = None, verification: str | None = None
) -> MerchantV3Keys:
    """The merchant's v3 keys: issued now if it has none, or afresh when an APIv3 key or mode is given.

    Registering a merchant again (tests do it after each reset) keeps the keys it was issued, so
    the files our web and worker read stay valid for the sandbox's life.
    """
    with sandbox.lock:
        existing = sandbox.part(PayV3Keys).by_mch_id.get(mch_id)
    if (
        existing is not None
        and apiv3_key in (None, existing.apiv3_key)
        and verification in (None, existing.verification)
    ):
        return existing
    authority = sandbox.tls_authority
    keys = merchant_v3_keys_issue(
        mch_id,
        apiv3_key=apiv3_key,
        verification=verification or PUBLIC_KEY,
        directory=authority.directory if authority is not None else None,
    )
    with sandbox.lock:
        sandbox.part(PayV3Keys).by_mch_id[mch_id] = keys
    return keys
