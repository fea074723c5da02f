import multiprocessing as mp
import sqlite3
import time

import pytest

from state import ArtifactExists, NameError_, Store, check_name


def test_migrations_create_schema_once(tmp_path):
    s = Store(tmp_path / "w.db")
    assert s.schema_version >= 1
    s2 = Store(tmp_path / "w.db")  # re-opening applies nothing twice
    assert s2.schema_version == s.schema_version
    mode = sqlite3.connect(tmp_path / "w.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_run_lifecycle_and_metrics(ws):
    st = ws.store
    rid = st.create_run("corpus", {"a": 1}, command=["python", "-m", "workbench"])
    run = st.get_run(rid)
    assert run.status == "queued" and run.config == {"a": 1}
    claimed = st.claim_next("cpu")
    assert claimed.id == rid and claimed.status == "running"
    rid2 = st.create_run("corpus", {})
    assert st.claim_next("cpu") is None, "one running job per device"
    assert st.queue_position(rid2) == 1
    st.log_metrics(rid, [(1, "loss", 2.0), (2, "loss", 1.5), (2, "bad", float("nan"))])
    assert [m["value"] for m in st.metrics(rid)] == [2.0, 1.5]
    assert st.last_metrics(rid) == {"loss": 1.5}
    st.set_progress(rid, 5, 10, "half")
    assert st.get_run(rid).fraction == 0.5
    assert st.finish_run(rid, "succeeded", summary={"x": 1})
    assert not st.finish_run(rid, "failed", only_if_active=True), "an ended run is left alone"
    assert st.get_run(rid).status == "succeeded"
    assert st.claim_next("cpu").id == rid2


def test_bad_status_rejected(ws):
    rid = ws.store.create_run("x", {})
    with pytest.raises(Exception):
        ws.store.update_run(rid, status="bogus")


@pytest.mark.parametrize("bad", ["", "../etc", "a/b", "..", "a\\b", "x" * 200, ".hidden", "a b"])
def test_names_reject_traversal_and_junk(bad):
    with pytest.raises(NameError_):
        check_name(bad)


def test_names_accept_korean():
    assert check_name("한국어-말뭉치_v1.2") == "한국어-말뭉치_v1.2"


def test_artifacts_lineage_and_no_clobber(ws):
    st = ws.store
    a = st.add_artifact("corpus", "c1", "/x/c1")
    b = st.add_artifact("tokenizer", "t1", "/x/t1", parents=[a])
    c = st.add_artifact("model", "m1", "/x/m1", parents=[a, b], meta={"params": 10})
    assert [x.name for x in st.lineage(c)] == ["m1", "c1", "t1"]
    with pytest.raises(ArtifactExists):
        st.add_artifact("corpus", "c1", "/y")
    assert st.get_artifact(a).path == "/x/c1"
    st.add_artifact("corpus", "c1", "/y", overwrite=True)
    assert st.get_artifact(a).path == "/y", "overwrite keeps the id so lineage stays intact"
    assert [x.name for x in st.list_artifacts("corpus")] == ["c1"]


def test_publish_is_atomic_and_keeps_old_on_refusal(ws):
    stg = ws.staging_dir("corpus", "c")
    (stg / "data.txt").write_text("one")
    ws.publish(stg, "corpus", "c")
    stg2 = ws.staging_dir("corpus", "c")
    (stg2 / "data.txt").write_text("two")
    with pytest.raises(ArtifactExists):
        ws.publish(stg2, "corpus", "c")
    assert (ws.artifact_dir("corpus", "c") / "data.txt").read_text() == "one"
    ws.publish(stg2, "corpus", "c", overwrite=True)
    assert (ws.artifact_dir("corpus", "c") / "data.txt").read_text() == "two"
    with pytest.raises(NameError_):
        ws.artifact_dir("corpus", "../../etc")


def _writer(db, run_id, seconds, rate, q):
    st = Store(db)
    n = 0
    t0 = time.time()
    errors = []
    while time.time() - t0 < seconds:
        try:
            st.log_metrics(run_id, [(n, "m", float(n))])
            n += 1
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
        sleep = t0 + n / rate - time.time()
        if sleep > 0:
            time.sleep(sleep)
    q.put((n, errors))


def test_two_processes_writing_concurrently_lose_nothing(ws):
    """Two processes each write 100 metric rows a second for 30 s while this one reads."""
    db = ws.root / "workbench.db"
    r1 = ws.store.create_run("a", {})
    r2 = ws.store.create_run("b", {})
    q = mp.get_context("spawn").Queue()
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(db), r, 30, 100, q)) for r in (r1, r2)]
    for p in procs:
        p.start()
    reads = 0
    while any(p.is_alive() for p in procs):
        ws.store.metric_count(r1)
        ws.store.list_runs()
        reads += 1
        time.sleep(0.05)
    results = [q.get(timeout=10) for _ in procs]
    for p in procs:
        p.join()
    for n, errors in results:
        assert errors == [], errors[:3]
        assert n >= 2900, f"writer managed only {n} rows in 30 s"
    counts = sorted([ws.store.metric_count(r1), ws.store.metric_count(r2)])
    assert counts == sorted(n for n, _ in results), "every row written is in the store"
    assert ws.store.integrity_ok()
