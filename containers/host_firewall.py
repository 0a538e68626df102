"""The host's side of a deployment's isolation: firewall rules on its bridge, and its route.

Docker keeps separate bridge networks apart (its DOCKER-ISOLATION chains), and an
`internal` network forwards nothing off its bridge. What Docker leaves open is the host
itself: the bridge's gateway address is one of the host's, so a container could open any
port the host listens on (the server, PostgreSQL or Redis bound to 0.0.0.0, ...). Per
deployment bridge we therefore insert, tagged with a comment naming the bridge:

- `INPUT -i <bridge> ! --ctstate ESTABLISHED,RELATED -j DROP`: the container cannot open a
  connection to the host; the replies to the server's own connections (the preview proxy
  dialing the container) still arrive.
- with egress `internet`, `DOCKER-USER -i <bridge> -d <private ranges> -j DROP`: out to the
  internet, never to this host's neighbours, other deployments or link-local metadata.

With egress `none` the container's default route is also deleted (from the host, in the
container's network namespace: the container itself has no capability to do it), so it has
no route out at all. Everything here runs blocking commands: call it off the event loop.
The server and dockerd must share the host (they do: the proxy dials the container's
address on its bridge).
"""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable

COMMENT_PREFIX = "collab-deploy:"
# Where a deployment with internet egress must never go: private, shared, link-local
# (cloud metadata) and loopback ranges.
PRIVATE_RANGES = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
    "169.254.0.0/16",
    "127.0.0.0/8",
)


class FirewallError(RuntimeError):
    """A rule could not be set: the deployment must not start without it."""


def _run(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FirewallError(f"{args[0]}: {exc}") from exc
    if done.returncode != 0:
        raise FirewallError(f"{' '.join(args)}: {done.stderr.strip()[:300]}")
    return done.stdout


def _iptables(*args: str) -> str:
    return _run("iptables", "-w", "10", *args)


def _rules(bridge: str, internet: bool) -> list[tuple[str, list[str]]]:
    comment = ["-m", "comment", "--comment", COMMENT_PREFIX + bridge]
    rules = [
        (
            "INPUT",
            [
                *("-i", bridge, "-m", "conntrack", "!", "--ctstate", "ESTABLISHED,RELATED"),
                *comment,
                *("-j", "DROP"),
            ],
        )
    ]
    if internet:
        rules += [
            ("DOCKER-USER", ["-i", bridge, "-d", r, *comment, "-j", "DROP"]) for r in PRIVATE_RANGES
        ]
    return rules


def guard(bridge: str, internet: bool) -> None:
    """Insert the bridge's rules (first in their chains); idempotent."""
    for chain, rule in _rules(bridge, internet):
        try:
            _iptables("-C", chain, *rule)
        except FirewallError:
            _iptables("-I", chain, "1", *rule)


def _tagged(chain: str) -> list[tuple[str, list[str]]]:
    """(bridge, the rule's arguments) of each of our rules in the chain."""
    try:
        listing = _iptables("-S", chain)
    except FirewallError:
        return []  # no such chain (no DOCKER-USER on an engine without iptables)
    found = []
    for line in listing.splitlines():
        if COMMENT_PREFIX not in line or not line.startswith(f"-A {chain} "):
            continue
        words = shlex.split(line)[2:]
        comment = words[words.index("--comment") + 1]
        found.append((comment.removeprefix(COMMENT_PREFIX), words))
    return found


def release(bridge: str) -> None:
    """Delete every rule of this bridge."""
    forget(lambda name: name == bridge)


def forget(gone: Callable[[str], bool]) -> int:
    """Delete the rules of every bridge `gone(bridge)` says is gone; how many were deleted."""
    deleted = 0
    for chain in ("INPUT", "DOCKER-USER"):
        for bridge, words in _tagged(chain):
            if gone(bridge):
                try:
                    _iptables("-D", chain, *words)
                    deleted += 1
                except FirewallError:
                    pass  # deleted meanwhile by another process
    return deleted


def drop_default_route(pid: int) -> None:
    """Delete the default route in the network namespace of the process `pid`."""
    _run("nsenter", "-t", str(pid), "-n", "ip", "-4", "route", "del", "default")
