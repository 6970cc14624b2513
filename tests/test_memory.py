"""A server holds the Apertium pipelines it uses, not one per installed pair.

Real Apertium throughout: a fresh server runs only its warm pairs' pipelines (and reports its
whole process tree's memory), another pair starts on its first phrase and translates right,
an idle pipeline stops and comes back on the next phrase, and nothing outlives ``close``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from conftest import ROOT, Server, start_server, stop_server
from lingolive.config import Settings
from lingolive.engines.apertium_mt import ApertiumTranslator, discover_modes
from lingolive.engines.registry import warm_pairs

#: Apertium's real output (as in test_engines.py).
ES_EN = ("Muchas gracias, hasta luego.", "Thank you very much, see you later.")
ES_FR = ("Buenos días.", "Bonjour.")
CA_EN = ("Bon dia, com estàs?", "Good morning, how you are?")


def pipeline_processes(pid: int) -> list[psutil.Process]:
    """The live processes of the pipeline led by ``pid`` (its own process group)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pid and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, ProcessLookupError):
            continue
    return found


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


@pytest.fixture
def translator() -> Iterator[ApertiumTranslator]:
    engine = ApertiumTranslator(idle_s=0.3, keep_warm=[("en", "es")])
    yield engine
    engine.close()


def test_warm_pairs_are_the_default_its_reverse_and_the_setting() -> None:
    installed = set(discover_modes())
    assert warm_pairs(Settings(), installed) == [("en", "es"), ("es", "en")]
    configured = Settings(mt_warm_pairs="es-fr, CA-EN,en-es,xx-yy")  # type: ignore[arg-type]
    assert warm_pairs(configured, installed) == [
        ("en", "es"),
        ("es", "en"),
        ("es", "fr"),
        ("ca", "en"),
    ]
    auto = Settings(source_lang="auto", mt_warm_pairs="es-fr")  # type: ignore[arg-type]
    assert warm_pairs(auto, installed) == [("es", "fr")]
    assert set(warm_pairs(Settings(mt_warm_pairs="*"), installed)) == installed  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="source-target"):
        Settings(mt_warm_pairs="english")  # type: ignore[arg-type]


def test_a_cold_pair_starts_on_first_use(translator: ApertiumTranslator) -> None:
    assert translator.running_pipelines() == {}
    assert len(translator.pairs()) == len(discover_modes())  # listing starts nothing
    assert translator.running_pipelines() == {}
    translator.warm("en", "es")
    assert list(translator.running_pipelines()) == [("en", "es")]
    assert translator.translate(ES_FR[0], "es", "fr") == ES_FR[1]
    running = translator.running_pipelines()
    assert set(running) == {("en", "es"), ("es", "fr")}
    assert len(pipeline_processes(running[("es", "fr")])) >= 3  # a real pipeline of programs


def test_an_idle_pipeline_stops_and_the_next_phrase_restarts_it(
    translator: ApertiumTranslator,
) -> None:
    translator.warm("en", "es")
    assert translator.translate(ES_EN[0], "es", "en") == ES_EN[1]
    first = translator.running_pipelines()[("es", "en")]
    assert eventually(lambda: ("es", "en") not in translator.running_pipelines())
    assert eventually(lambda: not pipeline_processes(first)), "its processes must exit"
    assert ("en", "es") in translator.running_pipelines()  # kept warm, however idle
    assert translator.translate(ES_EN[0], "es", "en") == ES_EN[1]
    assert translator.running_pipelines()[("es", "en")] != first


def test_concurrent_phrases_start_a_pair_once_and_close_leaves_nothing() -> None:
    """The MT pool's two threads on cold pairs, with pipelines stopping between phrases."""
    engine = ApertiumTranslator(idle_s=0.05)
    started: set[int] = set()

    def one(i: int) -> str:
        text, _ = (ES_EN, CA_EN)[i % 2]
        out = engine.translate(text, *(("es", "en"), ("ca", "en"))[i % 2])
        started.update(engine.running_pipelines().values())
        if i % 5 == 4:
            time.sleep(0.12)  # let the reaper stop what is idle
        return out

    try:
        with ThreadPoolExecutor(2) as pool:
            outs = list(pool.map(one, range(20)))
        assert outs == [(ES_EN, CA_EN)[i % 2][1] for i in range(20)]
    finally:
        engine.close()
    assert engine.running_pipelines() == {}
    # Its own idle thread is gone (the suite's shared engines have one of their own).
    assert engine._reaper is not None and not engine._reaper.is_alive()
    assert eventually(lambda: not any(pipeline_processes(pid) for pid in started))


def test_no_pipeline_starts_after_close() -> None:
    engine = ApertiumTranslator()
    engine.close()
    with pytest.raises(Exception, match="closed"):
        engine.translate(ES_EN[0], "es", "en")
    assert engine.running_pipelines() == {}


# --- a fresh server ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("memory"), LL_MT_WARM_PAIRS="ca-en")
    yield srv
    stop_server(srv)
    assert "Traceback" not in srv.log(), srv.log()


def test_a_fresh_server_runs_only_the_warm_pipelines(fresh_server: Server) -> None:
    status = httpx.get(f"{fresh_server.url}/api/status").json()
    process = status["process"]
    assert process["mt_pipelines"] == ["ca-en", "en-es", "es-en"]
    # Every child process belongs to one of those pipelines (its process group).
    server = psutil.Process(fresh_server.proc.pid)
    groups: dict[int, int] = {}
    for child in server.children(recursive=True):
        group = os.getpgid(child.pid)
        groups[group] = groups.get(group, 0) + 1
    assert len(groups) == 3 and all(n >= 3 for n in groups.values()), groups
    assert process["children"] == sum(groups.values())
    assert process["rss_mib"] > 0 and 0 < process["tree_uss_mib"] <= process["tree_pss_mib"]
    # The languages offered are still every installed pair.
    offered = httpx.get(f"{fresh_server.url}/api/languages").json()["pairs"]
    assert len(offered) > 3


def test_metrics_report_the_process_tree(fresh_server: Server) -> None:
    text = httpx.get(f"{fresh_server.url}/metrics").text

    def gauge(name: str) -> float:
        match = re.search(rf"^{name} (\S+)$", text, re.M)
        assert match, f"{name} missing from /metrics"
        return float(match.group(1))

    uss = gauge("lingolive_process_tree_uss_bytes")
    pss = gauge("lingolive_process_tree_pss_bytes")
    children = gauge("lingolive_child_processes")
    main_uss = psutil.Process(fresh_server.proc.pid).memory_full_info().uss
    assert uss > main_uss > 50 * 2**20  # the children's memory is counted too
    assert pss > 50 * 2**20
    assert children == len(psutil.Process(fresh_server.proc.pid).children(recursive=True))


def test_models_list_tells_what_the_live_server_runs(fresh_server: Server) -> None:
    port = fresh_server.url.rsplit(":", 1)[1]
    env = {**os.environ, "LL_PORT": port}
    out = subprocess.run(
        [sys.executable, "-m", "lingolive", "models", "list"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "MT pipelines running: ca->en, en->es, es->en" in out.stdout, out.stdout
    assert re.search(r"USS \d+ MiB, PSS \d+ MiB, \d+ child processes", out.stdout), out.stdout
    nobody = subprocess.run(
        [sys.executable, "-m", "lingolive", "models", "list"],
        capture_output=True,
        text=True,
        env={**env, "LL_PORT": "9"},  # nothing listens there
        cwd=ROOT,
        timeout=120,
    )
    assert "a fresh one starts the Apertium pipelines en->es, es->en" in nobody.stdout


def test_docs_state_the_measured_memory() -> None:
    """docs/scaling.md and the README say what bench/results/memory.json measured."""
    result = json.loads((ROOT / "bench" / "results" / "memory.json").read_text())
    fresh, every = result["fresh_server"]["defaults"], result["fresh_server"]["all_pairs_warm"]
    cold = result["first_use"]
    scaling = (ROOT / "docs" / "scaling.md").read_text()
    readme = (ROOT / "README.md").read_text()
    row = f"| **{fresh['tree_uss_mib']} MiB** | {fresh['tree_pss_mib']} MiB |"
    assert row in scaling and f"| {every['tree_uss_mib']} MiB |" in scaling
    assert f"**{cold['cold_p50_ms']:.0f} ms**" in scaling
    assert f"≈ {fresh['tree_uss_mib']} MiB each" in readme
    assert result["command"] in scaling
