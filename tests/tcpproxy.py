"""A TCP proxy in front of a test service (Redis, PostgreSQL) that can fail as a network or a
restarted server does."""
from __future__ import annotations

import socket
import threading
import time


class Proxy:
    """A TCP proxy to `upstream` that can fail as a network does: `refuse()` closes every
    connection and refuses new ones until `restore()`; `go_silent()` keeps them open but lets
    nothing through (requests time out). `close_delay` passes the service's closing of a
    connection on that many seconds late, as a network between two hosts does: what the client
    sends meanwhile reaches a closed socket."""

    def __init__(self, upstream: tuple[str, int] = ("127.0.0.1", 6379), close_delay: float = 0.0):
        self.upstream = upstream
        self.close_delay = close_delay
        self.silent = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []
        self._listen()

    def _listen(self) -> None:
        self.threads = [threading.Thread(target=self._accept, args=(self.listener,), daemon=True,
                                         name="tcp-proxy")]
        self.threads[0].start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                downstream, _ = listener.accept()
            except OSError:
                return  # refused from now on
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                downstream.close()  # the service itself is down: as a refused connection
                continue
            with self.lock:
                self.sockets += [downstream, upstream]
            for source, sink, delay in ((downstream, upstream, 0.0), (upstream, downstream, self.close_delay)):
                thread = threading.Thread(target=self._pump, args=(source, sink, delay), daemon=True)
                thread.start()
                self.threads.append(thread)

    def _pump(self, source: socket.socket, sink: socket.socket, close_delay: float = 0.0) -> None:
        try:
            while chunk := source.recv(65536):
                if not self.silent:
                    sink.sendall(chunk)
            time.sleep(close_delay)
        except OSError:
            pass
        finally:
            for end in (source, sink):  # one side gone: so is the connection
                try:
                    # shutdown first: close() alone leaves the other pump blocked in recv() on
                    # this socket (and refuse() waiting 2 s for it) until its peer speaks
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    end.close()
                except OSError:
                    pass

    def go_silent(self) -> None:
        self.silent = True

    def restore(self) -> None:
        """The service is back: let traffic through again (after `go_silent()`), and accept
        connections again on the same port (after `refuse()`)."""
        self.silent = False
        if self.listener.fileno() == -1:  # refused: listen again
            self.listener = socket.create_server(("127.0.0.1", self.port))
            self._listen()

    def refuse(self) -> None:
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self.sockets.clear()
        for thread in self.threads:
            thread.join(timeout=2)
