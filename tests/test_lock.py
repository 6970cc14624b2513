"""The lock is what setup.sh installs and what the suite runs on: it must match pyproject.toml.

``scripts/lock.sh --check`` asks uv, offline, whether ``uv.lock`` still satisfies
``pyproject.toml`` and whether ``requirements/*.txt`` are its exports. On top of that, every
package installed here is at its locked version: the suite tests the lock, not whatever
pip happened to resolve on this machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from conftest import ROOT

UV = Path(sys.executable).parent / "uv"


def check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / "scripts" / "lock.sh"), "--check"],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "UV": str(UV)},
        timeout=120,
    )


def test_lock_matches_pyproject() -> None:
    result = check(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stale_lock_is_detected(tmp_path: Path) -> None:
    """A dependency added to pyproject.toml without re-locking fails the check."""
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    (tmp_path / "src" / "lingolive").mkdir(parents=True)
    (tmp_path / "src" / "lingolive" / "__init__.py").touch()
    assert check(tmp_path).returncode == 0
    pyproject = (tmp_path / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        pyproject.replace('"numpy>=1.26",', '"numpy>=1.26",\n    "rich>=13",')
    )
    stale = check(tmp_path)
    assert stale.returncode == 1 and "does not match pyproject.toml" in stale.stderr


def test_installed_packages_are_the_locked_versions() -> None:
    locked = {
        canonical(m.group(1)): m.group(2)
        for m in re.finditer(
            r"^([A-Za-z0-9_.-]+)==([^ ;\\]+) ;([^\\]*)",
            (ROOT / "requirements" / "dev.txt").read_text(),
            re.M,
        )
        if applies(m.group(3))
    }
    assert len(locked) > 50
    wrong = {
        name: (metadata.version(name), version)
        for name, version in locked.items()
        if metadata.version(name) != version
    }
    assert not wrong, f"installed vs locked: {wrong}; run ./scripts/setup.sh --dev"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def applies(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker.strip()).evaluate()
