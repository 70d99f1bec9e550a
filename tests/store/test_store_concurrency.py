"""Several writers on one database: processes (WAL + BEGIN IMMEDIATE) and thread workers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from store import KeyQuery, Store

ROOT = Path(__file__).resolve().parents[2]

# Each writer opens its own Store, says "ready", waits for "go" on stdin (so both
# really start together), then mixes 200 audit appends with 100 key adds.
WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {root!r})
    from store import KeyRecord, Store
    tag = sys.argv[1]
    store = Store(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()
    for i in range(200):
        store.audit.append("test.write", engine_id="soft", details={{"writer": tag, "i": i}})
        if i % 2 == 0:
            with store.transaction():  # a state change and its audit row commit together
                store.add_key(KeyRecord(
                    key_id=f"{{tag}}{{i:062d}}", engine_id="soft", name=f"{{tag}}-{{i}}", algorithm="ECDSA",
                    size=256, strength="MEDIUM", has_private_key=True, public_key="PEM"))
                store.audit.append("key.create", engine_id="soft", key_id=f"{{tag}}{{i:062d}}")
        # Like an operator's app, leave gaps between writes; a tight loop would starve
        # the other writer behind SQLite's back-off and the two would never interleave.
        time.sleep(0.001)
    store.close()
    print("done", flush=True)
    """
).format(root=str(ROOT))


def test_two_processes_write_one_chain(store_dir, make_engine):
    with Store(store_dir) as store:
        store.add_engine(make_engine("soft"))
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, tag, str(store_dir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("aa", "bb")
    ]
    try:
        for writer in writers:
            assert writer.stdout.readline().strip() == "ready"
        for writer in writers:
            writer.stdin.write("go\n")
            writer.stdin.flush()
        results = [writer.communicate(timeout=60) for writer in writers]
    finally:
        for writer in writers:
            if writer.poll() is None:
                writer.kill()
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err
        assert "locked" not in err and out.strip() == "done"

    with Store(store_dir) as store:
        check = store.audit.verify()
        assert check.ok, check.reason
        assert check.rows == 600  # 2 x (200 plain + 100 key.create)
        assert store.audit.count(action="test.write") == 400
        assert store.count_keys() == 200
        assert store.count_keys(KeyQuery(text="aa-")) == 100
        rows = store.audit.list(limit=1000, newest_first=False)
        assert [r.seq for r in rows] == list(range(1, 601))
        # The writers really ran at the same time: their rows alternate in the chain more
        # than once (one switch would be two writers taking turns, not contending).
        writers_in_order = [r.details["writer"] for r in rows if r.action == "test.write"]
        assert sum(a != b for a, b in zip(writers_in_order, writers_in_order[1:], strict=False)) >= 2
        assert writers_in_order.count("aa") == writers_in_order.count("bb") == 200


def test_thread_workers_share_one_store(store, make_engine, make_key):
    store.add_engine(make_engine())
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(25):
                with store.transaction():
                    store.add_key(make_key(f"t{n}-{i}"))
                    store.audit.append("key.create", key_id=f"t{n}-{i}")
                store.list_keys(KeyQuery(text=f"t{n}", limit=5))
        except BaseException as exc:  # collected and asserted below: threads swallow failures
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.count_keys() == 100
    check = store.audit.verify()
    assert check.ok and check.rows == 100
