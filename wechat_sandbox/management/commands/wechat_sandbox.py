"""python manage.py wechat_sandbox: run the WeChat sandbox in the foreground until Ctrl-C."""

import tempfile
import threading
from pathlib import Path
from typing import ClassVar

from django.conf import settings
from django.core.management.base import BaseCommand

from wechat_sandbox.official_account_followers import followers_seed
from wechat_sandbox.outbox import OutboxCourier
from wechat_sandbox.server import (
    DEFAULT_READ_TIMEOUT_SECONDS,
    make_sandbox_server,
    make_secapi_server,
    make_v3_server,
    register_merchants,
    sandbox_apps_from_settings,
    sandbox_merchants_from_settings,
    server_url,
)
from wechat_sandbox.tls import CertificateAuthority


class Command(BaseCommand):
    help = (
        "Run the WeChat sandbox: WeChat's HTTP APIs for the apps in settings, state in memory, "
        "and a control API under /sandbox/ (GET it for the list of endpoints)."
    )
    # The sandbox uses no models or database; let it start whatever state the project is in.
    requires_system_checks: ClassVar[list[str]] = []

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
        parser.add_argument(
            "--port",
            type=int,
            default=settings.WECHAT_SANDBOX_PORT,
            help=f"port to listen on (default WECHAT_SANDBOX_PORT, {settings.WECHAT_SANDBOX_PORT})",
        )
        parser.add_argument(
            "--tls-port",
            type=int,
            help="port serving secapi/ (refunds) over TLS with a client certificate required (default "
            f"WECHAT_SANDBOX_TLS_PORT, {settings.WECHAT_SANDBOX_TLS_PORT}, with the default --port; else any free one)",
        )
        parser.add_argument(
            "--v3-port",
            type=int,
            help="port serving WeChat Pay APIv3 (/v3/) over HTTPS (default WECHAT_SANDBOX_V3_PORT, "
            f"{settings.WECHAT_SANDBOX_V3_PORT}, with the default --port; else any free one)",
        )
        parser.add_argument(
            "--tls-dir",
            type=Path,
            help="folder the CA, server and merchant certificates are written to at start (default "
            f"WECHAT_SANDBOX_TLS_DIR, {settings.WECHAT_SANDBOX_TLS_DIR}, with the default --port; else a temporary "
            "one)",
        )
        parser.add_argument(
            "--read-timeout",
            type=float,
            default=DEFAULT_READ_TIMEOUT_SECONDS,
            help=f"seconds a client may stall while sending its request (default {DEFAULT_READ_TIMEOUT_SECONDS})",
        )
        parser.add_argument(
            "--callback-base-url",
            help="our web server (e.g. http://127.0.0.1:8000/): the Official Account's events are pushed to "
            "<it>/wechat/oa/<appid>/ in safe mode with the development token and AES key (make demo sets it)",
        )
        parser.add_argument(
            "--followers",
            type=int,
            default=0,
            help="followers the settings' Official Account starts with, so mass sends reach someone (make demo: 1280)",
        )

    def handle(
        self,
        *args,
        host: str,
        port: int,
        tls_port: int | None,
        v3_port: int | None,
        tls_dir: Path | None,
        read_timeout: float,
        callback_base_url: str | None,
        followers: int,
        **options,
    ):
        apps = sandbox_apps_from_settings(callback_base_url=callback_base_url)
        merchants = sandbox_merchants_from_settings()
        server = make_sandbox_server(apps=apps, host=host, port=port, read_timeout=read_timeout)
        tls_port, tls_dir, temporary = self._tls_place(port=port, tls_port=tls_port, tls_dir=tls_dir)
        authority = CertificateAuthority(tls_dir)
        secapi_server = make_secapi_server(server.app, authority, host=host, port=tls_port, read_timeout=read_timeout)
        if v3_port is None:
            v3_port = settings.WECHAT_SANDBOX_V3_PORT if port == settings.WECHAT_SANDBOX_PORT else 0
        v3_server = make_v3_server(server.app, authority, host=host, port=v3_port, read_timeout=read_timeout)
        register_merchants(server.app.sandbox, merchants)
        if followers > 0:
            followers_seed(server.app.sandbox, appid=settings.WECHAT_OFFICIAL_ACCOUNT_APPID, count=followers)
        url = server_url(server)
        self.stdout.write(f"WeChat sandbox at {url} (control API and endpoint list: {url}sandbox/)")
        self.stdout.write(
            f"  secapi/ over TLS at {server_url(secapi_server)}, client certificate required; "
            f"CA and merchant certificates in {tls_dir}"
        )
        self.stdout.write(
            f"  WeChat Pay APIv3 over HTTPS at {server_url(v3_server)}; merchants' v3 keys in {tls_dir} "
            "(merchant-<mch_id>-v3.json)"
        )
        for app in apps:
            pushes = f", pushing events to {app.callback.url}" if app.callback else ""
            self.stdout.write(f"  {app.kind}: {app.appid}{pushes}")
        if followers > 0:
            self.stdout.write(f"  {followers} followers of {settings.WECHAT_OFFICIAL_ACCOUNT_APPID}")
        for merchant in merchants:
            self.stdout.write(f"  WeChat Pay merchant: {merchant.mch_id} for {merchant.appid}")
        self.stdout.write("Ctrl-C stops it.")
        self.stdout.flush()
        courier = OutboxCourier(server.app.sandbox).start()
        secapi_thread = threading.Thread(target=secapi_server.serve_forever, name="wechat-sandbox-secapi", daemon=True)
        secapi_thread.start()
        v3_thread = threading.Thread(target=v3_server.serve_forever, name="wechat-sandbox-v3", daemon=True)
        v3_thread.start()
        try:
            server.serve_forever()  # returns, closing the socket, on Ctrl-C
        finally:
            courier.stop()
            for served in (secapi_server, v3_server):
                served.shutdown()
                served.server_close()
            if temporary is not None:
                temporary.cleanup()
        self.stdout.write("WeChat sandbox stopped.")

    @staticmethod
    def _tls_place(
        *, port: int, tls_port: int | None, tls_dir: Path | None
    ) -> tuple[int, Path, tempfile.TemporaryDirectory | None]:
        """The TLS port and certificate folder, unless given: the settings' for the settings' sandbox.

        Another --port is another sandbox (a bench, a test): it must not take the demo's TLS port, nor
        replace the certificates the demo's web server and worker read.
        """
        if port == settings.WECHAT_SANDBOX_PORT:
            tls_port = settings.WECHAT_SANDBOX_TLS_PORT if tls_port is None else tls_port
            return tls_port, tls_dir or settings.WECHAT_SANDBOX_TLS_DIR, None
        tls_port = 0 if tls_port is None else tls_port
        if tls_dir is not None:
            return tls_port, tls_dir, None
        temporary = tempfile.TemporaryDirectory(prefix="wechat-sandbox-tls-")
        return tls_port, Path(temporary.name), temporary
