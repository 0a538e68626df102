"""A git server for tests: `git http-backend` (git's own smart HTTP) behind an https
aiohttp server on loopback, with a self-signed certificate and HTTP basic auth."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import os
import ssl
import subprocess
from pathlib import Path

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.workspace_support import Person, workspace

USER, TOKEN = "x-access-token", "s3cret-token"


def certificate(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def git(cwd: Path, *args: str) -> str:
    env = os.environ | {
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Someone",
        "GIT_AUTHOR_EMAIL": "someone@example.org",
        "GIT_COMMITTER_NAME": "Someone",
        "GIT_COMMITTER_EMAIL": "someone@example.org",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, check=True)
    return done.stdout.decode()


async def _backend(root: Path, request: web.Request) -> web.StreamResponse:
    expected = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
    env = {
        "PATH": os.environ["PATH"],
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": request.path,
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.query_string,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "REMOTE_USER": USER,
        "REMOTE_ADDR": "127.0.0.1",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
    }
    if "Content-Encoding" in request.headers:
        env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
    body = await request.read()
    process = await asyncio.create_subprocess_exec(
        "git",
        "http-backend",
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(body)
    head, _, content = out.partition(b"\r\n\r\n")
    status, headers = 200, {}
    for line in head.decode().split("\r\n"):
        key, _, value = line.partition(":")
        if key.lower() == "status":
            status = int(value.strip().split()[0])
        elif key:
            headers[key] = value.strip()
    return web.Response(status=status, body=content, headers=headers)


async def serve(root: Path, folder: Path) -> tuple[web.AppRunner, str, Path]:
    """Serve the bare repositories under `root`; (runner, base URL, CA file)."""
    cert_file, key_file = certificate(folder)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    app = web.Application(client_max_size=100 * 1024 * 1024)

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _backend(root, request)

    app.router.add_route("*", "/{path:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"https://127.0.0.1:{port}", cert_file


async def git_workspace(
    owner: Person, url: str, *, branch: str = "main", token: str = TOKEN
) -> str:
    """A new workspace of `owner` whose git remote is `url` (that branch), `token` its secret
    GIT_TOKEN."""
    ws = await workspace(owner)
    status, body = await owner.call(
        "patch",
        f"/api/workspaces/{ws}/document",
        {
            "git": {"remote_url": url, "branch": branch},
            "environment": {"variables": [{"name": "GIT_TOKEN", "value": token, "secret": True}]},
        },
    )
    assert status == 200, body
    return ws
