"""Build (once) and find the binaries the local stack runs.

* The collector is our own distribution, built by the OpenTelemetry Collector
  Builder from ``collector-config/builder-manifest.yaml``. Its cache key holds
  the builder version and the manifest's hash, so editing the manifest rebuilds.
* Jaeger v2 is built from its Go module with the Go toolchain (see
  :data:`JAEGER_MODULE_VERSION` for why this version and why not ``go install``).
* Prometheus, promtool and Redis come from Debian packages; we only locate them.

Binaries live under ``<cache_dir>/<key>/``; a second ``stack up`` costs nothing.
Builds take a file lock per key, so two callers never build the same thing at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from otelpipe.stack.components import Binaries
from otelpipe.stack.progress import Progress, quiet
from otelpipe.stack.settings import StackSettings

__all__ = [
    "BUILDER_VERSION",
    "JAEGER_MODULE_VERSION",
    "BuildError",
    "ensure_collector",
    "ensure_jaeger",
    "find_debian_tools",
    "resolve_binaries",
]

BUILDER_VERSION = "v0.159.0"
BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"

#: Jaeger v2 ships in the Go module ``github.com/jaegertracing/jaeger`` whose
#: v1.x tags are also v2 releases: v1.76.0 is the same commit as v2.13.0.
#: The module proxy reachable here serves tagged versions only (a commit or
#: pseudo-version such as v2.20.0's 798e4b0f answers 403), and v1.76.0's
#: go.mod carries a ``replace`` directive that ``go install mod@version``
#: refuses. So we build it as ``go install`` would, but from a throw-away main
#: module that requires jaeger v1.76.0, repeats its replace directives and uses
#: its own go.sum (the checksums its release was built with).
JAEGER_MODULE = "github.com/jaegertracing/jaeger"
JAEGER_MODULE_VERSION = "v1.76.0"
JAEGER_RELEASE = "v2.13.0"

_HEARTBEAT_SECONDS = 30


class BuildError(RuntimeError):
    """A binary could not be built or found; the message says what to do."""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise BuildError(
            "the Go toolchain (`go`) is not on PATH; it is needed to build "
            "the collector and Jaeger once (install Go >= 1.24)"
        )
    return go


def _run_logged(
    argv: Sequence[str],
    *,
    cwd: Path,
    log: Path,
    what: str,
    progress: Progress,
    env: dict[str, str] | None = None,
) -> None:
    """Run ``argv``, appending its output to ``log``; say every 30 s that it still runs."""
    started = time.monotonic()
    done = threading.Event()

    def heartbeat() -> None:
        while not done.wait(_HEARTBEAT_SECONDS):
            progress(f"  … still {what} ({time.monotonic() - started:.0f}s elapsed, log: {log})")

    ticker = threading.Thread(target=heartbeat, daemon=True)
    ticker.start()
    try:
        with log.open("a") as out:
            out.write(f"\n$ {' '.join(argv)}\n")
            out.flush()
            result = subprocess.run(
                argv,
                cwd=cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                check=False,
            )
    finally:
        done.set()
    if result.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise BuildError(f"{what} failed (exit {result.returncode}); last lines of {log}:\n{tail}")


def _cached(
    settings: StackSettings,
    key: str,
    filename: str,
    build: Callable[[Path, Path], Path],
    announce: str,
    progress: Progress,
) -> Path:
    """Return ``<cache_dir>/<key>/<filename>``, building it first if absent.

    ``build(work_dir, log)`` runs under the key's file lock in a temporary
    directory and returns the binary it produced there; the binary is moved
    into place atomically, so a half-built one is never found.
    """
    binary = settings.cache_dir / key / filename
    if binary.is_file():
        return binary
    with _locked(settings.cache_dir / f"{key}.lock"):
        if binary.is_file():
            return binary
        progress(announce)
        with tempfile.TemporaryDirectory(prefix=f"{key}-", dir=settings.cache_dir) as work:
            produced = build(Path(work), settings.cache_dir / f"{key}.log")
            binary.parent.mkdir(parents=True, exist_ok=True)
            os.replace(produced, binary)
    progress(f"{key}: ready at {binary}")
    return binary


def _install_builder(settings: StackSettings, progress: Progress) -> Path:
    def build(work: Path, log: Path) -> Path:
        _run_logged(
            [_go(), "install", f"{BUILDER_MODULE}@{BUILDER_VERSION}"],
            cwd=work,
            log=log,
            what="installing the collector builder",
            progress=progress,
            env={"GOBIN": str(work)},
        )
        return work / "builder"

    key = f"builder-{BUILDER_VERSION}"
    return _cached(settings, key, "builder", build, f"installing {key} (go install)", progress)


def collector_cache_key(manifest: Path) -> str:
    digest = hashlib.sha256(manifest.read_bytes()).hexdigest()[:12]
    return f"otelcol-perf-{BUILDER_VERSION}-{digest}"


def ensure_collector(settings: StackSettings, progress: Progress = quiet) -> Path:
    """Return the collector binary, building it with ocb first if the cache lacks it."""
    manifest = settings.config_dir / "builder-manifest.yaml"
    key = collector_cache_key(manifest)

    def build(work: Path, log: Path) -> Path:
        builder = _install_builder(settings, progress)
        shutil.copy(manifest, work / "builder-manifest.yaml")
        _run_logged(
            [str(builder), "--config", "builder-manifest.yaml"],
            cwd=work,
            log=log,
            what="building the collector",
            progress=progress,
            env={"CGO_ENABLED": "0"},
        )
        return work / "otelcol-perf" / "otelcol-perf"

    announce = f"building the collector {key} with ocb (the first build takes 5-15 minutes)"
    return _cached(settings, key, "otelcol-perf", build, announce, progress)


def ensure_jaeger(settings: StackSettings, progress: Progress = quiet) -> Path:
    """Return the Jaeger v2 binary, building it first if the cache lacks it."""

    def build(work: Path, log: Path) -> Path:
        go = _go()
        module = f"{JAEGER_MODULE}@{JAEGER_MODULE_VERSION}"
        downloaded = subprocess.run(
            [go, "mod", "download", "-json", module],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
        )
        if downloaded.returncode != 0:
            raise BuildError(
                f"go mod download {module} failed:\n{downloaded.stdout}{downloaded.stderr}"
            )
        info = json.loads(downloaded.stdout)
        upstream = json.loads(
            subprocess.run(
                [go, "mod", "edit", "-json", info["GoMod"]],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        (work / "go.mod").write_text(
            f"module otelpipe.local/jaeger-build\n\ngo {upstream['Go']}\n\n"
            f"require {JAEGER_MODULE} {JAEGER_MODULE_VERSION}\n"
        )
        for rep in upstream.get("Replace") or []:
            new = rep["New"]["Path"] + (
                f"@{rep['New']['Version']}" if rep["New"].get("Version") else ""
            )
            subprocess.run(
                [go, "mod", "edit", f"-replace={rep['Old']['Path']}={new}"], cwd=work, check=True
            )
        shutil.copy(Path(info["Dir"]) / "go.sum", work / "go.sum")
        (work / "go.sum").chmod(0o644)
        goflags = f"{os.environ.get('GOFLAGS', '')} -mod=mod".strip()
        _run_logged(
            [go, "build", "-trimpath", "-o", str(work / "jaeger"), f"{JAEGER_MODULE}/cmd/jaeger"],
            cwd=work,
            log=log,
            what="building Jaeger",
            progress=progress,
            env={"CGO_ENABLED": "0", "GOFLAGS": goflags},
        )
        return work / "jaeger"

    key = f"jaeger-{JAEGER_RELEASE}"
    announce = (
        f"building Jaeger {JAEGER_RELEASE} ({JAEGER_MODULE}@{JAEGER_MODULE_VERSION}) with go build "
        "(the first build takes 5-15 minutes)"
    )
    return _cached(settings, key, "jaeger", build, announce, progress)


def find_debian_tools() -> dict[str, Path]:
    """Locate prometheus, promtool and redis-server, or say which package to install."""
    found: dict[str, Path] = {}
    missing: set[str] = set()
    for program, package in (
        ("prometheus", "prometheus"),
        ("promtool", "prometheus"),
        ("redis-server", "redis-server"),
    ):
        path = shutil.which(program)
        if path is None:
            missing.add(package)
        else:
            found[program] = Path(path)
    if missing:
        packages = " ".join(sorted(missing))
        raise BuildError(
            f"missing Debian package(s): {packages}; install them with "
            f"`apt-get install -y {packages}` (scripts/setup.sh does it for you)"
        )
    return found


def resolve_binaries(settings: StackSettings, progress: Progress = quiet) -> Binaries:
    """Every binary the stack runs, building the Go ones first if the cache lacks them."""
    tools = find_debian_tools()
    return Binaries(
        collector=ensure_collector(settings, progress),
        jaeger=ensure_jaeger(settings, progress),
        prometheus=tools["prometheus"],
        redis_server=tools["redis-server"],
    )
