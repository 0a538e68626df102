"""A package index the tests serve themselves on loopback: PEP 503 for pip, a registry for npm.

The packages are built here: a pure-Python wheel written by hand (a zip with its METADATA,
WHEEL and RECORD) and an npm tarball made by `npm pack` of a generated package. Nothing
depends on the internet. `requests` records every path asked; `stall` makes the index hold
every answer (for time limits).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from tests.support import free_port


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def wheel(name: str, version: str, modules: dict[str, str]) -> tuple[str, bytes]:
    """(file name, bytes) of a py3-none-any wheel holding `modules` (path -> source)."""
    info = f"{name}-{version}.dist-info"
    files = dict(modules) | {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: collab-tests\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, text in files.items():
            data = text.encode()
            archive.writestr(path, data)
            record.append(f"{path},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}")
        record.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return f"{name}-{version}-py3-none-any.whl", buffer.getvalue()


def npm_tarball(
    name: str, version: str, files: dict[str, str], scripts: dict[str, str] | None = None
) -> bytes:
    """`npm pack` of a generated package (package.json written here)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "pkg"
        root.mkdir()
        manifest: dict[str, object] = {
            "name": name,
            "version": version,
            "main": "index.js",
            "license": "MIT",
            "scripts": scripts or {},
        }
        (root / "package.json").write_text(json.dumps(manifest))
        for path, text in files.items():
            (root / path).write_text(text)
        done = subprocess.run(
            ["npm", "pack", "--pack-destination", tmp, "--cache", f"{tmp}/cache"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        )
        return (Path(tmp) / done.stdout.strip().splitlines()[-1]).read_bytes()


def integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@dataclass
class PackageIndex:
    wheels: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)  # project -> files
    tarballs: dict[str, dict[str, bytes]] = field(default_factory=dict)  # name -> version -> tgz
    requests: list[str] = field(default_factory=list)
    stall: bool = False
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pip_url(self) -> str:
        return f"{self.url}/simple/"

    @property
    def npm_url(self) -> str:
        return f"{self.url}/npm/"

    def add_wheel(self, name: str, version: str, modules: dict[str, str]) -> None:
        self.wheels.setdefault(name, []).append(wheel(name, version, modules))

    def add_npm(
        self,
        name: str,
        version: str,
        files: dict[str, str],
        scripts: dict[str, str] | None = None,
    ) -> str:
        """Publish a package; its lockfile integrity."""
        data = npm_tarball(name, version, files, scripts)
        self.tarballs.setdefault(name, {})[version] = data
        return integrity(data)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        if self.stall:
            await asyncio.sleep(3600)
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["simple"] and len(parts) == 2 and parts[1] in self.wheels:
            links = "".join(
                f'<a href="/files/{file}#sha256={hashlib.sha256(data).hexdigest()}">{file}</a>'
                for file, data in self.wheels[parts[1]]
            )
            page = f"<html><body>{links}</body></html>"
            return web.Response(text=page, content_type="text/html")
        if parts[:1] == ["files"] and len(parts) == 2:
            for file, data in (w for files in self.wheels.values() for w in files):
                if file == parts[1]:
                    return web.Response(body=data, content_type="application/octet-stream")
        if parts[:1] == ["npm"] and len(parts) == 2 and parts[1] in self.tarballs:
            return web.json_response(self._packument(parts[1]))
        if parts[:1] == ["npm"] and len(parts) == 4 and parts[2] == "-":
            for version, data in self.tarballs.get(parts[1], {}).items():
                if parts[3] == f"{parts[1]}-{version}.tgz":
                    return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404, text="not found")

    def _packument(self, name: str) -> dict[str, object]:
        versions = self.tarballs[name]
        return {
            "name": name,
            "dist-tags": {"latest": max(versions)},
            "versions": {
                version: {
                    "name": name,
                    "version": version,
                    "dist": {
                        "tarball": f"{self.npm_url}{name}/-/{name}-{version}.tgz",
                        "integrity": integrity(data),
                        "shasum": hashlib.sha1(data).hexdigest(),  # noqa: S324 - npm's field
                    },
                }
                for version, data in versions.items()
            },
        }

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        self.port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def package_json(
    name: str, dependencies: dict[str, tuple[str, str]], scripts: dict[str, str] | None = None
) -> str:
    """A package.json asking for `dependencies` (name -> (version, integrity))."""
    wanted = {dep: f"^{version}" for dep, (version, _) in dependencies.items()}
    manifest = {"name": name, "version": "1.0.0", "dependencies": wanted}
    return json.dumps(manifest | ({"scripts": scripts} if scripts else {}), indent=2)


def lockfile(
    name: str,
    dependencies: dict[str, tuple[str, str]],
    resolved_host: str,
    scripts: dict[str, str] | None = None,
    with_install_scripts: frozenset[str] = frozenset(),
) -> str:
    """A package-lock.json (v3) for `dependencies` (name -> (version, integrity)), their
    tarballs said to come from `resolved_host` (the server replaces it by its registry)."""
    wanted = {dep: f"^{version}" for dep, (version, _) in dependencies.items()}
    root: dict[str, object] = {"name": name, "version": "1.0.0", "dependencies": wanted}
    if scripts and "postinstall" in scripts:
        root["hasInstallScript"] = True
    packages: dict[str, object] = {"": root}
    for dep, (version, digest) in dependencies.items():
        packages[f"node_modules/{dep}"] = {
            "version": version,
            "resolved": f"{resolved_host}/{dep}/-/{dep}-{version}.tgz",
            "integrity": digest,
        } | ({"hasInstallScript": True} if dep in with_install_scripts else {})
    lock = {"name": name, "version": "1.0.0", "lockfileVersion": 3, "requires": True}
    return json.dumps(lock | {"packages": packages}, indent=2)
