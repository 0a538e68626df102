"""Install output (pip's, npm's and every package's install script, in the build
container) was held until a newline: an install printing none (a progress bar, or a
package's script on purpose, for the whole install time limit) grew the server's buffer
without bound and the session saw nothing."""

from __future__ import annotations

import asyncio

from containers.dependencies import PREFIX, _Output
from containers.logs import MAX_LINE_BYTES


async def test_install_output_without_newlines_is_sent_in_bounded_lines() -> None:
    sent: list[list[str]] = []

    async def send(lines: list[str]) -> None:
        sent.append(lines)

    output = _Output(send)
    for _ in range(64):
        output.feed(b"#" * 65536)
        assert len(output._pending) <= MAX_LINE_BYTES
    await output.close()
    lines = [line for batch in sent for line in batch]
    assert sum(line.count("#") for line in lines) == 64 * 65536
    assert all(len(line.removeprefix(PREFIX).encode()) <= MAX_LINE_BYTES for line in lines)
    # Bytes that are no text at all are cut too (and never stall the cut).
    output = _Output(send)
    output.feed(b"\x80" * (4 * MAX_LINE_BYTES))
    assert len(output._pending) <= MAX_LINE_BYTES
    output.feed("é".encode() * MAX_LINE_BYTES)
    await output.close()
    text = [line for line in sent[-1] if "é" in line and "\ufffd" not in line]
    assert sum(line.count("é") for line in text) >= MAX_LINE_BYTES - 8192  # none cut
    assert all(len(line.removeprefix(PREFIX).encode()) <= MAX_LINE_BYTES for line in text)
    await asyncio.sleep(0)
