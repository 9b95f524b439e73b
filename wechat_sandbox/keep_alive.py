"""Werkzeug's threaded server with persistent (keep-alive) HTTP/1.1 connections, as WeChat's servers keep them.

Werkzeug's development server answers every request with `Connection: close`, because http.server
cannot tell where an unread request body ends and the next request line begins. A client of the
sandbox then paid a TCP connection (and a TLS handshake on the secapi and APIv3 ports) and a server
thread for every call, which WeChat does not make it pay. Here a connection stays open for the next
request when the client asks for nothing else and the application read the whole body it was sent
(the stream counts what it hands out); otherwise the answer says `Connection: close` and the server
closes after it, as before: an HTTP/1.0 client, a client's own `Connection: close`, a chunked
request body, a body left unread (one over its route's limit), an answer whose end only the closing
marks, an error. A fault that drops the connection still drops it (`server._drop_connection`).

A kept connection waits for its next request at most `idle_timeout` seconds, then the server closes
it; clients check a pooled connection before reusing it (urllib3 does), so only a request sent in
the instant the server closes meets a closed connection. Stopping the server closes every kept
connection that is waiting, so that stopping never waits for a client to hang up.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, connection_dropped_errors

# Seconds a kept connection may wait for its next request; long against a busy client's gaps between
# calls, so that the server seldom closes a connection its client is about to use.
DEFAULT_IDLE_TIMEOUT_SECONDS = 60.0


class CountedInput:
    """The request body's stream as the application sees it, counting the bytes it read."""

    __slots__ = ("_stream", "consumed")

    def __init__(self, stream):
        self._stream = stream
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self.consumed += len(data)
        return data

    def readinto(self, buffer) -> int:
        count = self._stream.readinto(buffer) or 0
        self.consumed += count
        return count

    def readline(self, size: int = -1) -> bytes:
        line = self._stream.readline(size)
        self.consumed += len(line)
        return line


class KeepAliveRequestHandler(WSGIRequestHandler):
    """Werkzeug's WSGI handler whose answers keep the connection open when it is safe to."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # an answer's last part goes out at once, not after the previous one's ack
    idle_timeout = DEFAULT_IDLE_TIMEOUT_SECONDS
    server: KeepAliveWSGIServer
    _answered_one = False  # the connection's first request waits for its request line only `timeout` seconds

    def handle_one_request(self) -> None:
        if self._answered_one and not self._next_request_arrived():
            self.close_connection = True
            return
        self._answered_one = True
        super().handle_one_request()

    def _next_request_arrived(self) -> bool:
        """Wait, idle, for a kept connection's next request; False when the client, the clock or a stop closed it."""
        if not self.server.connection_waits(self.connection):
            return False
        try:
            self.connection.settimeout(self.idle_timeout)
            return bool(self.rfile.peek(1))
        except (OSError, ValueError):  # the idle timeout, a reset, or the server's stop shutting it down
            return False
        finally:
            self.server.connection_works(self.connection)
            try:
                self.connection.settimeout(self.timeout)
            except OSError:
                pass

    def run_wsgi(self) -> None:
        """Werkzeug's run_wsgi, deciding per answer whether the connection stays open and draining only when not."""
        if self.request_version != "HTTP/1.1":
            self.close_connection = True  # HTTP/1.0 keeps a connection only by a negotiation not made here
        self.environ = environ = self.make_environ()
        declared_length = _declared_body_length(environ)
        if declared_length is None:  # chunked, or a length we cannot trust: the body's end is unknown
            self.close_connection = True
            body = None
        else:
            body = environ["wsgi.input"] = CountedInput(environ["wsgi.input"])
        status_set: str | None = None
        headers_set: list[tuple[str, str]] | None = None
        status_sent: str | None = None
        chunk_response = False

        def body_left_unread() -> bool:
            return body is None or body.consumed < declared_length

        def write(data: bytes) -> None:
            nonlocal status_sent, chunk_response
            assert status_set is not None and headers_set is not None, "write() before start_response"
            if status_sent is None:
                status_sent = status_set
                code_text, _, message = status_sent.partition(" ")
                code = int(code_text)
                self.send_response(code, message)
                header_keys = set()
                for key, value in headers_set:
                    self.send_header(key, value)
                    header_keys.add(key.lower())
                if not (
                    "content-length" in header_keys
                    or environ["REQUEST_METHOD"] == "HEAD"
                    or 100 <= code < 200
                    or code in {204, 304}
                ):
                    if self.request_version == "HTTP/1.1":
                        chunk_response = True
                        self.send_header("Transfer-Encoding", "chunked")
                    else:
                        self.close_connection = True  # the close is what ends the answer
                if body_left_unread():
                    self.close_connection = True
                if self.close_connection:
                    self.send_header("Connection", "close")
                self._headers_buffer.append(b"\r\n")
                head = b"".join(self._headers_buffer)
                self._headers_buffer = []
            else:
                head = b""
            assert isinstance(data, bytes), "applications must write bytes"
            if data and chunk_response:
                data = b"%x\r\n%s\r\n" % (len(data), data)
            # The head and the body's first part in one send: sent apart, the second would wait for the
            # client's (delayed) acknowledgement of the first on a kept connection.
            if head or data:
                self.wfile.write(head + data)

        def start_response(status, headers, exc_info=None):
            nonlocal status_set, headers_set
            if exc_info:
                try:
                    if status_sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif headers_set:
                raise AssertionError("Headers already set")
            status_set = status
            headers_set = headers
            return write

        def execute(app) -> None:
            application_iter = app(environ, start_response)
            try:
                for data in application_iter:
                    write(data)
                if not status_sent:
                    write(b"")
                if chunk_response:
                    self.wfile.write(b"0\r\n\r\n")
            finally:
                if self.close_connection and body_left_unread():
                    self._drain()
                if hasattr(application_iter, "close"):
                    application_iter.close()

        try:
            execute(self.server.app)
        except connection_dropped_errors as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
        except Exception as error:
            self.close_connection = True  # an answer cut short, or a 500 after an unknown amount of the body
            if self.server.passthrough_errors:
                raise
            if status_sent is None:
                status_set = None
                headers_set = None
            with contextlib.suppress(Exception):  # the 500 could not be sent either; the error is logged below
                execute(InternalServerError())
            from werkzeug.debug.tbtools import DebugTraceback

            self.server.log("error", f"Error on request:\n{DebugTraceback(error).render_traceback_text()}")

    def _drain(self) -> None:
        """Read what the client still sends before closing, as Werkzeug does, so it sees the answer, not a reset."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.connection, selectors.EVENT_READ)
            total_size = 0
            for _ in range(1000):
                # A timeout of 0 tends to fail: a client needs a moment to send the rest.
                if not selector.select(timeout=0.01):
                    break
                data = self.rfile.read1(10_000_000)
                total_size += len(data)
                if not data or total_size >= 10_000_000_000:
                    break


def _declared_body_length(environ: dict) -> int | None:
    """The body's length by its Content-Length (0 when absent); None when chunked or not a plain number."""
    if "wsgi.input_terminated" in environ:  # Werkzeug dechunks a chunked body
        return None
    declared = environ.get("CONTENT_LENGTH", "").strip()
    if not declared:
        return 0
    return int(declared) if declared.isdigit() else None


class KeepAliveWSGIServer(ThreadedWSGIServer):
    """Werkzeug's threaded server, knowing which kept connections wait idle so that a stop can close them."""

    def __init__(self, *args, **kwargs):
        self._idle_lock = threading.Lock()
        self._idle_connections: set[socket.socket] = set()
        self._closing = False
        super().__init__(*args, **kwargs)

    def connection_waits(self, connection: socket.socket) -> bool:
        """Note a kept connection waiting for its next request; False when the server is stopping."""
        with self._idle_lock:
            if self._closing:
                return False
            self._idle_connections.add(connection)
            return True

    def connection_works(self, connection: socket.socket) -> None:
        with self._idle_lock:
            self._idle_connections.discard(connection)

    def server_close(self) -> None:
        """Close the listening socket, hang up every idle kept connection, then wait for requests in progress."""
        with self._idle_lock:
            self._closing = True
            idle = list(self._idle_connections)
        for connection in idle:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # the client hung up meanwhile
        super().server_close()
