"""The CORA_TRACES setting (cora.settings) and the fixture the tests reach it through."""

from __future__ import annotations

from pathlib import Path

from cora import settings


def test_default_is_beside_the_repository(monkeypatch):
    monkeypatch.delenv("CORA_TRACES", raising=False)
    repo = Path(__file__).resolve().parents[1]
    assert settings.REPO_ROOT == repo
    assert settings.traces_dir() == (repo.parent / "shared" / "traces" / "tcpdump").resolve()


def test_environment_overrides_and_relative_values_follow_the_cwd(monkeypatch, tmp_path):
    (tmp_path / "b.pcap").write_bytes(b"")
    (tmp_path / "a.pcap").write_bytes(b"")
    (tmp_path / "c.txt").write_bytes(b"")
    monkeypatch.setenv("CORA_TRACES", str(tmp_path))
    assert settings.traces_dir() == tmp_path.resolve()
    assert [p.name for p in settings.trace_files()] == ["a.pcap", "b.pcap"]
    monkeypatch.chdir(tmp_path.parent)
    monkeypatch.setenv("CORA_TRACES", tmp_path.name)
    assert settings.traces_dir() == tmp_path.resolve()
    monkeypatch.setenv("CORA_TRACES", "  ")               # blank means unset
    assert settings.traces_dir() == (settings.REPO_ROOT / settings.DEFAULT_TRACES).resolve()
    monkeypatch.setenv("CORA_TRACES", str(tmp_path / "missing"))
    assert settings.trace_files() == []


def test_the_fixture_gives_the_corpus(trace_corpus):
    assert trace_corpus == settings.traces_dir()
    assert len(list(trace_corpus.glob("*.pcap"))) >= 200


def test_shown_path_is_relative_to_the_repository(monkeypatch, tmp_path):
    """Saved bench results name paths relative to the repository, never this machine's."""
    from cora.settings import REPO_ROOT, shown_path, traces_dir

    monkeypatch.delenv("CORA_TRACES", raising=False)
    assert shown_path(traces_dir()) == "../shared/traces/tcpdump"
    assert shown_path(REPO_ROOT / "docs" / "figures" / "x.png") == "docs/figures/x.png"
    assert not shown_path(tmp_path).startswith("/")
