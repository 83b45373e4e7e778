"""Chat fan-out: N Socket.IO clients in one /chat room, M messages/s, delivery latency and loss.

Run against the box `make run` started (site on :8080, gunicorn on :8000):

    .venv/bin/python bench/chat_fanout.py [--clients 1000] [--rate 5] [--senders 3] [--seconds 30]
                                          [--url http://127.0.0.1:8080] [--channel bench_fanout]
    .venv/bin/python bench/chat_fanout.py --idle --clients 10000 --seconds 60 --url http://127.0.0.1:8000

(Each WebSocket through nginx holds two of nginx's descriptors; where the hard `ulimit -n` is
20,000, nginx carries about 9,500 sockets, so --idle goals beyond that talk to gunicorn itself.)

Receivers join anonymously; senders are the channel's owner (created on first use with
`flask users create`, password kept in var/bench/chat_fanout.json) plus extra accounts made
moderators with `flask channels mods CHANNEL add NAME`, so they too are exempt from rate limits.
Each sent text carries its send time, so receivers measure delivery latency themselves.
`lost` = acked sends x clients in the room - deliveries seen. Server CPU and RSS are those of
the processes listening on --server-port (gunicorn's workers), read from /proc.

The clients speak just enough Engine.IO 4 / Socket.IO 5 over a raw WebSocket (asyncio
protocols, spread over --procs processes) that decoding 10,000 deliveries/s is cheap next to
the server's work. Prints `name=value` lines; the last is delivery_p99_ms (or server_rss_mb
with --idle). first_copy_* is when a message's first copy arrived (the server's path: store,
render, publish) and fanout_spread_* how long the room took to get every copy.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import multiprocessing
import os
import re
import resource
import secrets
import subprocess
import sys
import time
from array import array
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ACCOUNTS_FILE = ROOT / "var" / "bench" / "chat_fanout.json"
NAMESPACE = "/chat"
CONNECT_TIMEOUT = 30.0
ACK_TIMEOUT = 15.0

# The server's json.dumps may or may not put a space after the colon.
BENCH_TEXT = re.compile(rb'"text": ?"bench ([0-9a-f]+) (\d+) (\d+)"')
ACK_PACKET = re.compile(rb"43/chat,(\d+)")


def log(text: str) -> None:
    print(f"chat_fanout: {text}", file=sys.stderr, flush=True)


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- a minimal Socket.IO client on one WebSocket ------------------------------------------

class ChatClient(asyncio.Protocol):
    """One browser's worth of /chat: WebSocket handshake, Engine.IO pings, join, acks.

    Frames to the server are masked with a zero key (valid, and the payload needs no XOR).
    `on_message` gets the raw `42/chat,["message",...]` packet bytes.
    """

    def __init__(self, host: str, path: str, channel: str, cookie: str | None = None,
                 on_message=None, on_event=None):
        loop = asyncio.get_running_loop()
        self.host, self.path, self.channel, self.cookie = host, path, channel, cookie
        self.on_message = on_message
        self.on_event = on_event  # (name, raw packet) for other server events: error, notice...
        self.joined = loop.create_future()
        self.closed = loop.create_future()
        self.transport = None
        self.buf = bytearray()
        self.upgraded = False
        self.fragments: list[bytes] = []
        self.acks: dict[int, asyncio.Future] = {}
        self.next_ack = 0
        self.join_reply = None

    # transport side
    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [f"GET {self.path}?EIO=4&transport=websocket HTTP/1.1", f"Host: {self.host}",
                 "Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {key}",
                 "Sec-WebSocket-Version: 13"]
        if self.cookie:
            lines.append(f"Cookie: {self.cookie}")
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def connection_lost(self, exc) -> None:
        self._fail(ConnectionError(f"connection closed ({exc or 'by the server'})"))
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:buf.find(b"\r\n")])
            if b" 101 " not in status:
                self._fail(ConnectionError(f"no WebSocket upgrade: {status.decode(errors='replace')}"))
                self.transport.close()
                return
            del buf[:end + 4]
            self.upgraded = True
        while True:
            n = len(buf)
            if n < 2:
                return
            size = buf[1] & 0x7F
            start = 2
            if size == 126:
                if n < 4:
                    return
                size = int.from_bytes(buf[2:4], "big")
                start = 4
            elif size == 127:
                if n < 10:
                    return
                size = int.from_bytes(buf[2:10], "big")
                start = 10
            end = start + size
            if n < end:
                return
            head = buf[0]
            payload = bytes(buf[start:end])
            del buf[:end]
            opcode = head & 0x0F
            if not head & 0x80:  # a fragment: keep it until the final frame
                self.fragments.append(payload)
                continue
            if opcode == 0 and self.fragments:
                payload = b"".join(self.fragments) + payload
                self.fragments.clear()
            if opcode in (0, 1, 2):
                self._packet(payload)
            elif opcode == 9:
                self._frame(0x8A, payload)
            elif opcode == 8:
                self.transport.close()
                return

    def _frame(self, head: int, data: bytes) -> None:
        n = len(data)
        if n < 126:
            header = bytes((head, 0x80 | n))
        elif n < 65536:
            header = bytes((head, 0xFE)) + n.to_bytes(2, "big")
        else:
            header = bytes((head, 0xFF)) + n.to_bytes(8, "big")
        self.transport.write(header + b"\0\0\0\0" + data)

    def send_packet(self, text: str) -> None:
        self._frame(0x81, text.encode())

    # Engine.IO / Socket.IO side
    def _packet(self, p: bytes) -> None:
        if p.startswith(b'42/chat,["message"'):
            if self.on_message is not None:
                self.on_message(p)
        elif p.startswith(b"43/chat,"):
            match = ACK_PACKET.match(p)
            future = self.acks.pop(int(match.group(1)), None) if match else None
            if future is not None and not future.done():
                args = json.loads(p[match.end():])
                future.set_result(args[0] if args else None)
        elif p == b"2":
            self.send_packet("3")
        elif p.startswith(b"42/chat,"):
            if self.on_event is not None:
                name = p[10:p.find(b'"', 10)].decode(errors="replace")
                self.on_event(name, p)
        elif p.startswith(b"0"):
            self.send_packet(f"40{NAMESPACE},")
        elif p.startswith(b"40/chat"):
            self.emit("join", {"channel": self.channel}).add_done_callback(self._joined)
        elif p.startswith(b"44/chat"):
            self._fail(ConnectionError(f"connect refused: {p[8:].decode(errors='replace')}"))
            self.transport.close()
        elif p.startswith((b"41/chat", b"1")):
            self.transport.close()

    def _joined(self, future: asyncio.Future) -> None:
        if future.cancelled() or self.joined.done():
            return
        if future.exception() is not None:
            self.joined.set_exception(future.exception())
            return
        reply = future.result()
        self.join_reply = reply
        if isinstance(reply, dict) and reply.get("ok"):
            self.joined.set_result(reply)
        else:
            self.joined.set_exception(ConnectionError(f"join refused: {reply}"))

    def _fail(self, error: Exception) -> None:
        if not self.joined.done():
            self.joined.set_exception(error)
        for future in self.acks.values():
            if not future.done():
                future.set_exception(error)
        self.acks.clear()

    def emit(self, event: str, data) -> asyncio.Future:
        """Emit with an ack; the future gets the server's first ack argument."""
        self.next_ack += 1
        future = asyncio.get_running_loop().create_future()
        self.acks[self.next_ack] = future
        body = json.dumps([event, data], separators=(",", ":"))
        self.send_packet(f"42{NAMESPACE},{self.next_ack}{body}")
        return future

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_client(target: tuple, channel: str, cookie=None, on_message=None, on_event=None) -> ChatClient:
    host, port, path = target
    loop = asyncio.get_running_loop()
    transport, client = await asyncio.wait_for(loop.create_connection(
        lambda: ChatClient(f"{host}:{port}", path, channel, cookie, on_message, on_event), host, port),
        CONNECT_TIMEOUT)
    try:
        await asyncio.wait_for(asyncio.shield(client.joined), CONNECT_TIMEOUT)
    except BaseException:
        client.joined.cancel()  # nobody will read its outcome any more
        transport.close()
        raise
    return client


async def open_many(target, channel, count: int, batch: int, **kwargs) -> tuple[list, dict]:
    """Open `count` clients, `batch` at a time so the server is not stampeded."""
    clients, failures = [], {}
    for start in range(0, count, batch):
        results = await asyncio.gather(*(open_client(target, channel, **kwargs)
                                         for _ in range(min(batch, count - start))),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                reason = f"{type(result).__name__}: {result}"[:200]
                failures[reason] = failures.get(reason, 0) + 1
            else:
                clients.append(result)
    return clients, failures


class Commands:
    """The parent's commands, read from a multiprocessing pipe inside the event loop."""

    def __init__(self, conn):
        self.conn = conn
        self.queue: asyncio.Queue = asyncio.Queue()
        asyncio.get_running_loop().add_reader(conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            self.queue.put_nowait(self.conn.recv())
        except EOFError:
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            self.queue.put_nowait(("stop",))

    async def get(self):
        return await self.queue.get()


# --- processes ----------------------------------------------------------------------------

def receiver_process(conn, target, channel: str, count: int, batch: int, run_id: str) -> None:
    """Hold `count` joined clients; record the latency of every bench message of this run."""
    raise_fd_limit()
    asyncio.run(_receiver(conn, target, channel, count, batch, run_id.encode()))


async def _receiver(conn, target, channel, count, batch, run_id: bytes) -> None:
    commands = Commands(conn)
    latencies, seqs = array("q"), array("I")
    events: dict[str, int] = {}
    search, now, append, append_seq = BENCH_TEXT.search, time.time_ns, latencies.append, seqs.append

    def on_message(packet: bytes) -> None:
        match = search(packet)
        if match is not None and match.group(1) == run_id:
            append(now() - int(match.group(3)))
            append_seq(int(match.group(2)))

    def on_event(name: str, packet: bytes) -> None:
        events[name] = events.get(name, 0) + 1

    clients, failures = await open_many(target, channel, count, batch,
                                        on_message=on_message, on_event=on_event)
    conn.send(("ready", len(clients), failures))
    cpu_start = time.process_time()
    while True:
        command = await commands.get()
        if command[0] == "go":
            del latencies[:]
            del seqs[:]
            cpu_start = time.process_time()
        elif command[0] == "drain":
            _, per_client, deadline = command
            want = per_client * len(clients)
            while len(latencies) < want and time.time() < deadline:
                await asyncio.sleep(0.05)
            cpu = time.process_time() - cpu_start
            alive = sum(1 for c in clients if not c.closed.done())
            conn.send(("result", latencies.tobytes(), seqs.tobytes(), alive, events, cpu))
        elif command[0] == "count":
            conn.send(("count", sum(1 for c in clients if not c.closed.done())))
        elif command[0] == "stop":
            break
    for client in clients:
        client.close()
    await asyncio.sleep(0.1)


def sender_process(conn, target, channel: str, cookies: list[str], rate: float, seconds: float,
                   run_id: str) -> None:
    """Send rate x seconds bench messages, round-robin over the senders, on the parent's go."""
    asyncio.run(_sender(conn, target, channel, cookies, rate, seconds, run_id))


async def _sender(conn, target, channel, cookies, rate, seconds, run_id) -> None:
    commands = Commands(conn)
    senders, failures = [], {}
    for cookie in cookies:
        try:
            senders.append(await open_client(target, channel, cookie=cookie))
        except Exception as error:  # noqa: BLE001 - reported to the parent
            failures[str(error)[:200]] = failures.get(str(error)[:200], 0) + 1
    conn.send(("ready", len(senders), failures))
    if not senders or (await commands.get())[0] != "go":
        return
    loop = asyncio.get_running_loop()
    total = int(rate * seconds)
    acks, refusals, errors = [], {}, {}
    start = loop.time()
    for seq in range(total):
        delay = start + seq / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        sender = senders[seq % len(senders)]
        if sender.closed.done():
            errors["sender disconnected"] = errors.get("sender disconnected", 0) + 1
            continue
        acks.append(sender.emit("send", {"channel": channel, "text": f"bench {run_id} {seq} {time.time_ns()}"}))
    done, pending = await asyncio.wait(acks, timeout=ACK_TIMEOUT) if acks else (set(), set())
    acked = 0
    for future in done:
        if future.exception() is not None:
            reason = str(future.exception())[:200]
            errors[reason] = errors.get(reason, 0) + 1
            continue
        reply = future.result()
        if isinstance(reply, dict) and reply.get("ok"):
            acked += 1
        else:
            code = str(reply.get("code") if isinstance(reply, dict) else reply)
            refusals[code] = refusals.get(code, 0) + 1
    if pending:
        errors["no ack"] = len(pending)
    conn.send(("sent", len(acks), acked, refusals, errors))
    await commands.get()
    for sender in senders:
        sender.close()


# --- accounts -----------------------------------------------------------------------------

def flask_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv" / "bin" / "flask"), "--app", "app", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)


def load_accounts() -> dict:
    try:
        return json.loads(ACCOUNTS_FILE.read_text())
    except FileNotFoundError:
        return {}


def save_accounts(accounts: dict) -> None:
    ACCOUNTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    tmp = ACCOUNTS_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(accounts, indent=2))
    tmp.chmod(0o600)
    tmp.replace(ACCOUNTS_FILE)


def login(base_url: str, username: str, password: str) -> str | None:
    """The Cookie header of a logged-in session, or None when the login is refused."""
    import requests  # only the parent needs it

    http = requests.Session()
    page = http.get(f"{base_url}/login", timeout=10)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
    form = {"login": username, "username": username, "password": password,
            "csrf_token": token.group(1) if token else ""}
    response = http.post(f"{base_url}/login", data=form, allow_redirects=False, timeout=10,
                         headers={"Referer": f"{base_url}/login"})
    if response.status_code not in (302, 303) or "session" not in http.cookies:
        return None
    return "; ".join(f"{name}={value}" for name, value in http.cookies.items())


def ensure_account(base_url: str, accounts: dict, username: str) -> str:
    """Log `username` in, creating the account (and remembering its password) if needed."""
    password = accounts.get(username)
    if password:
        cookie = login(base_url, username, password)
        if cookie:
            return cookie
    password = secrets.token_urlsafe(18)
    result = flask_cli("users", "create", username, "--password", password)
    if result.returncode != 0:
        sys.exit(f"chat_fanout: cannot log in as {username} nor create it: {result.stderr.strip()}\n"
                 f"(its password lives in {ACCOUNTS_FILE}; delete the user or restore that file)")
    accounts[username] = password
    save_accounts(accounts)
    cookie = login(base_url, username, password)
    if not cookie:
        sys.exit(f"chat_fanout: created {username} but cannot log in as it")
    return cookie


def sender_cookies(base_url: str, channel: str, wanted: int) -> list[str]:
    """Cookies of the channel's owner and, when moderators can be added, of extra senders."""
    accounts = load_accounts()
    cookies = [ensure_account(base_url, accounts, channel)]
    if wanted <= 1:
        return cookies
    for n in range(2, wanted + 1):
        name = f"{channel}_s{n}"[:25]
        cookie = ensure_account(base_url, accounts, name)
        result = flask_cli("channels", "mods", channel, "add", name)
        if result.returncode != 0 and "already" not in (result.stdout + result.stderr).lower():
            log(f"cannot make {name} a moderator of {channel}: {result.stderr.strip()}; it is not used")
            continue
        cookies.append(cookie)
    return cookies


# --- the server's processes ---------------------------------------------------------------

def listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def server_pids(port: int) -> list[int]:
    """The processes serving `port`: gunicorn's workers (children of the holder of the socket)."""
    wanted = {f"socket:[{inode}]" for inode in listening_inodes(port)}
    holders = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in wanted:
                    holders.add(int(entry.name))
                    break
        except OSError:
            continue
    workers = [pid for pid in holders if parent_of(pid) in holders]
    return sorted(workers or holders)


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def parent_of(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


# --- the run ------------------------------------------------------------------------------

def percentile(sorted_values, fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = max(0, math.ceil(fraction * len(sorted_values)) - 1)  # nearest rank
    return sorted_values[index]


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="receivers in the room")
    parser.add_argument("--rate", type=float, default=5.0, help="messages per second, all senders together")
    parser.add_argument("--senders", type=int, default=3, help="sending accounts (owner + moderators)")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to send (or hold, with --idle)")
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="the site")
    parser.add_argument("--channel", default="bench_fanout",
                        help="channel (and owner's username) the bench uses; created if missing")
    parser.add_argument("--idle", action="store_true", help="only connect, join and hold the clients")
    parser.add_argument("--procs", type=int, default=os.cpu_count() or 2, help="receiver processes")
    parser.add_argument("--batch", type=int, default=100, help="connections opened at once, in total")
    parser.add_argument("--server-port", type=int, default=8000, help="where gunicorn listens (for CPU/RSS)")
    parser.add_argument("--drain", type=float, default=10.0, help="seconds to wait for late deliveries")
    parser.add_argument("--dump", type=Path, default=None,
                        help="write `seq first_ms last_ms copies` per message to this file")
    args = parser.parse_args()

    args.channel = args.channel.lower()  # channel slugs are lowercase usernames
    url = urlsplit(args.url)
    if url.scheme != "http":
        sys.exit("chat_fanout: only http:// URLs (loopback benches)")
    target = (url.hostname, url.port or 80, url.path.rstrip("/") + "/socket.io/")
    base_url = f"http://{url.netloc}{url.path.rstrip('/')}"
    limit = raise_fd_limit()
    procs = max(1, min(args.procs, args.clients))
    if args.clients // procs + 64 > limit:
        sys.exit(f"chat_fanout: {args.clients} clients over {procs} processes exceeds the fd limit {limit}")
    run_id = secrets.token_hex(4)

    cookies = sender_cookies(base_url, args.channel, 1 if args.idle else args.senders)
    pids = server_pids(args.server_port)
    if not pids:
        log(f"no process listens on :{args.server_port}; server CPU/RSS will read 0")
    rss_before = rss_mb(pids)

    ctx = multiprocessing.get_context("fork")
    pipes, workers = [], []
    batch = max(1, args.batch // procs)
    for count in split(args.clients, procs):
        parent, child = ctx.Pipe()
        worker = ctx.Process(target=receiver_process, args=(child, target, args.channel, count, batch, run_id),
                             daemon=True)
        worker.start()
        pipes.append(parent)
        workers.append(worker)
    started = time.monotonic()
    ready = [pipe.recv() for pipe in pipes]
    clients = sum(r[1] for r in ready)
    failures: dict[str, int] = {}
    for r in ready:
        for reason, n in r[2].items():
            failures[reason] = failures.get(reason, 0) + n
    log(f"{clients}/{args.clients} clients joined {args.channel} in {time.monotonic() - started:.1f}s; "
        f"server RSS {rss_before:.0f} -> {rss_mb(pids):.0f} MB")
    for reason, n in sorted(failures.items(), key=lambda item: -item[1])[:5]:
        log(f"  {n} failed: {reason}")

    if args.idle:
        time.sleep(args.seconds)
        rss = rss_mb(pids)
        for pipe in pipes:
            pipe.send(("count",))
        connected = sum(pipe.recv()[1] for pipe in pipes)
        for pipe in pipes:
            pipe.send(("stop",))
        for worker in workers:
            worker.join(10)
        print(f"clients={connected}")
        print(f"server_rss_mb={rss:.0f}")
        return

    parent, child = ctx.Pipe()
    sender = ctx.Process(target=sender_process,
                         args=(child, target, args.channel, cookies, args.rate, args.seconds, run_id), daemon=True)
    sender.start()
    _, joined, sender_failures = parent.recv()
    if not joined:
        for pipe in pipes:
            pipe.send(("stop",))
        sys.exit(f"chat_fanout: no sender could join: {sender_failures}")
    for pipe in pipes:
        pipe.send(("go",))
    watched = {"nginx": pids_named("nginx"), "redis": pids_named("redis-server")}
    cpu_before = {name: cpu_seconds(p) for name, p in watched.items()}
    server_cpu_before, wall = cpu_seconds(pids), time.monotonic()
    parent.send(("go",))
    _, sent, acked, refusals, errors = parent.recv()
    server_cpu = cpu_seconds(pids) - server_cpu_before
    other_cpu = {name: cpu_seconds(p) - cpu_before[name] for name, p in watched.items()}
    elapsed = time.monotonic() - wall
    rss = rss_mb(pids)
    for pipe in pipes:
        pipe.send(("drain", acked, time.time() + args.drain))
    results = [pipe.recv() for pipe in pipes]
    parent.send(("stop",))
    for pipe in pipes:
        pipe.send(("stop",))
    for process in [*workers, sender]:
        process.join(10)

    latencies, seqs = array("q"), array("I")
    events: dict[str, int] = {}
    bench_cpu = 0.0
    for _, raw, raw_seqs, _alive, worker_events, cpu in results:
        latencies.frombytes(raw)
        seqs.frombytes(raw_seqs)
        bench_cpu += cpu
        for name, n in worker_events.items():
            events[name] = events.get(name, 0) + n
    still = sum(r[3] for r in results)
    # Per message: when its first copy arrived (the server's own path: store, render, publish,
    # queue) and how long the room took to get every copy (the fan-out).
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    for seq, latency in zip(seqs, latencies):
        if latency < first.get(seq, 1 << 62):
            first[seq] = latency
        if latency > last.get(seq, -1):
            last[seq] = latency
    if args.dump:
        copies: dict[int, int] = {}
        for seq in seqs:
            copies[seq] = copies.get(seq, 0) + 1
        args.dump.write_text("".join(f"{seq} {first[seq] / 1e6:.1f} {last[seq] / 1e6:.1f} {copies[seq]}\n"
                                     for seq in sorted(first)))
    firsts = sorted(first.values())
    spreads = sorted(last[seq] - first[seq] for seq in first)
    ordered = sorted(latencies)
    if refusals or errors:
        log(f"send refusals {refusals} errors {errors}")
    if events:
        log(f"other events seen by receivers: {events}")
    if still != clients:
        log(f"{clients - still} receivers were disconnected during the run")
    print(f"clients={clients}")
    print(f"senders={joined}")
    print(f"sent={sent}")
    print(f"acked={acked}")
    print(f"delivered={len(latencies)}")
    print(f"lost={acked * clients - len(latencies)}")
    print(f"deliveries_per_s={len(latencies) / elapsed:.0f}")
    print(f"nginx_cpu_percent={100 * other_cpu['nginx'] / elapsed:.0f}")
    print(f"redis_cpu_percent={100 * other_cpu['redis'] / elapsed:.0f}")
    print(f"bench_cpu_percent={100 * bench_cpu / elapsed:.0f}")
    print(f"server_cpu_percent={100 * server_cpu / elapsed:.0f}")
    print(f"server_rss_mb={rss:.0f}")
    print(f"first_copy_p50_ms={percentile(firsts, 0.50) / 1e6:.1f}")
    print(f"first_copy_p99_ms={percentile(firsts, 0.99) / 1e6:.1f}")
    print(f"fanout_spread_p50_ms={percentile(spreads, 0.50) / 1e6:.1f}")
    print(f"fanout_spread_max_ms={percentile(spreads, 1.0) / 1e6:.1f}")
    print(f"delivery_p50_ms={percentile(ordered, 0.50) / 1e6:.1f}")
    print(f"delivery_p99_ms={percentile(ordered, 0.99) / 1e6:.1f}")


if __name__ == "__main__":
    main()
