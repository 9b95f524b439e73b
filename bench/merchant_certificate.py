"""A merchant certificate and its key on disk, for benches that start the app with production settings."""

from pathlib import Path


def merchant_certificate_environment(*, work_dir: Path, mch_id: str) -> dict[str, str]:
    """Production opens both files at start and refuses a missing or mismatched pair; no bench makes a refund."""
    from wechat_sandbox.tls import CertificateAuthority

    certificate = CertificateAuthority(work_dir / "merchant-certificate").merchant_certificate(mch_id)
    return {"WECHAT_PAY_CERT_PATH": certificate.cert_path, "WECHAT_PAY_KEY_PATH": certificate.key_path}
