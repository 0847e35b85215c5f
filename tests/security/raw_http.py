"""HTTP/1.1 over a plain socket, for requests that client libraries would clean up first.

`requests` (urllib3) removes ``..`` segments, refuses control characters and re-encodes paths;
these tests need the bytes on the wire to be exactly the attack.
"""

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    """Header names in lower case; repeated headers joined with ', '."""
    body: bytes
    header_names: tuple[str, ...]
    """Every header name as sent, in order, repeats included."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def raw_request(
    base_url: str,
    target: bytes | str,
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> RawResponse:
    """Send ``METHOD target HTTP/1.1`` with `headers` (plus Host, Connection: close) and read the
    whole answer."""
    parts = urlsplit(base_url)
    target_bytes = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + target_bytes + b" HTTP/1.1", f"Host: {parts.netloc}".encode()]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers or []]
    if body:
        lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    request = b"\r\n".join(lines) + b"\r\n\r\n" + body
    with socket.create_connection((parts.hostname, parts.port), timeout=TIMEOUT_SECONDS) as sock:
        sock.sendall(request)
        received = read_all(sock)
    return parse_response(received)


def send_stream(
    base_url: str,
    data: bytes,
    packets: list[int] | tuple[int, ...] = (),
    timeout: float = TIMEOUT_SECONDS,
) -> bytes:
    """Send `data` as it is, in packets of the sizes in `packets` and then the rest, end the
    client's stream (half-close), and return all the server sends back."""
    parts = urlsplit(base_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sent = 0
        for size in packets:
            sock.sendall(data[sent : sent + size])
            sent += size
        sock.sendall(data[sent:])
        sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def read_all(sock: socket.socket, timeout: float | None = None) -> bytes:
    """What `sock` receives until the server closes it (`timeout` for each read, if given)."""
    if timeout is not None:
        sock.settimeout(timeout)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse_response(received: bytes) -> RawResponse:
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    names = []
    for line in header_lines:
        name, _, value = line.partition(":")
        names.append(name)
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return RawResponse(int(status_line.split()[1]), headers, body, tuple(names))


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)
