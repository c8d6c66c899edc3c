"""Small helpers shared by the Hub tests: seeded models, sample inputs, a dummy token, a Hub that never answers."""
from __future__ import annotations

import socket
import threading

import torch

import mmzoo

#: A dummy token: the tests check that it is sent to the Hub and never printed or written.
FAKE_TOKEN = "hf_mmzooTestTokenThatMustNeverBePrinted"


def make_model(arch: str = "intermediate_add_strided", seed: int = 0, **kwargs) -> torch.nn.Module:
    """A seeded model (different seeds, different weights)."""
    torch.manual_seed(seed)
    return mmzoo.create(arch, **kwargs).eval()


def sample_inputs(model: torch.nn.Module, batch: int = 3, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    spec = model.input_spec
    return (torch.rand(batch, *spec.shape("rgb"), generator=generator),
            torch.rand(batch, *spec.shape("lidar"), generator=generator))


class SlowServer:
    """Accepts connections on 127.0.0.1 and answers every request in one of three slow ways:

    - ``"silent"``: never sends a byte;
    - ``"trickling"``: sends its status line and headers one byte per 0.2 s;
    - ``"headers"``: sends ``HTTP/1.1 200 OK`` at once, then one header line every 0.5 s, never ending them.

    An HTTP client's read timeout restarts with every byte received, so only an overall deadline ends the last two.
    """

    MODES = ("silent", "trickling", "headers")

    def __init__(self, mode: str) -> None:
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}, not {mode!r}")
        self.mode, self.stop = mode, threading.Event()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        clients = []
        while not self.stop.is_set():
            try:
                client, _ = self.sock.accept()
                clients.append(client)
                threading.Thread(target=self._answer, args=(client,), daemon=True).start()
            except OSError:
                continue
        for client in clients:
            client.close()

    def _chunks(self):
        if self.mode == "trickling":
            yield from ((0.2, bytes([byte])) for byte in b"HTTP/1.1 200 OK\r\nX-Filler: " + b"a" * 10_000)
        elif self.mode == "headers":
            yield 0.0, b"HTTP/1.1 200 OK\r\n"
            yield from ((0.5, f"X-Filler-{n}: {n}\r\n".encode()) for n in range(10_000))

    def _answer(self, client: socket.socket) -> None:
        for pause, chunk in self._chunks():
            if self.stop.wait(pause):
                return
            try:
                client.sendall(chunk)
            except OSError:
                return
        self.stop.wait(120)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
