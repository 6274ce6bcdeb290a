"""The durable outbox: seqs, acks, capacity, and crashes inside and between writes (kill -9)."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time

import pytest

from edge.link.outbox import Outbox, OutboxFull, read_stats


def payload(seq: int) -> tuple[str, bytes]:
    return f"ev-{seq}", f'{{"seq": {seq}}}'.encode()


def test_seqs_acks_and_file_mode(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite")
    assert [ob.append(payload) for _ in range(5)] == [1, 2, 3, 4, 5]
    assert ob.pending(0, 10) == [(s, payload(s)[1]) for s in range(1, 6)]
    assert ob.ack(3) == 3
    assert ob.ack(2) == 0  # an old ack (re-delivered) changes nothing
    st = ob.stats()
    assert (st.last_seq, st.acked_seq, st.depth, st.oldest_seq) == (5, 3, 2, 4)
    assert ob.ack(99) == 2 and ob.stats().acked_seq == 5  # capped at what exists
    assert ob.append(payload) == 6  # the counter survives an empty outbox
    ob.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert again.append(payload) == 7 and again.stats().acked_seq == 5
    assert stat.S_IMODE(os.stat(tmp_path / "o.sqlite").st_mode) == 0o600
    assert read_stats(tmp_path / "o.sqlite").last_seq == 7


def test_status_reads_an_outbox_being_created_as_absent(tmp_path):
    """`edge status` may look while the agent is starting: a file with no schema yet is 'no outbox'."""
    import sqlite3
    assert read_stats(tmp_path / "none.sqlite") is None
    sqlite3.connect(tmp_path / "new.sqlite").execute("PRAGMA journal_mode=WAL").fetchall()
    assert read_stats(tmp_path / "new.sqlite") is None


def test_capacity_raises_and_loses_nothing(tmp_path):
    ob = Outbox(tmp_path / "o.sqlite", max_events=3)
    for _ in range(3):
        ob.append(payload)
    with pytest.raises(OutboxFull) as err:
        ob.append(payload)
    assert "capacity 3" in err.value.message
    st = ob.stats()
    assert (st.last_seq, st.depth, st.near_full) == (3, 3, True)  # no seq burnt by the refusal
    ob.ack(1)
    assert ob.append(payload) == 4


WRITER = textwrap.dedent("""
    import os, signal, sys
    from edge.link.outbox import Outbox
    ob = Outbox(sys.argv[1])
    mode = sys.argv[2]
    def payload(seq):
        return f"ev-{seq}", (b"x" * 20000) + str(seq).encode()
    if mode == "inside":
        for _ in range(3):
            print(ob.append(payload), flush=True)
        # a power cut between the INSERT and the COMMIT of the fourth event
        ob.append(payload, _before_commit=lambda: os.kill(os.getpid(), signal.SIGKILL))
    else:
        while True:
            print(ob.append(payload), flush=True)
""")


def _writer(tmp_path, mode: str) -> subprocess.Popen:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "o.sqlite"), mode],
                            stdout=subprocess.PIPE, text=True, cwd=os.getcwd(),
                            env={**os.environ, "PYTHONPATH": os.getcwd()})


def _check_intact(path, committed: list[int]) -> list[int]:
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    seqs = [r[0] for r in db.execute("SELECT seq FROM events ORDER BY seq")]
    last = db.execute("SELECT value FROM counters WHERE name='last_seq'").fetchone()[0]
    db.close()
    assert seqs == list(range(1, last + 1))  # no gap, no half row
    assert set(committed) <= set(seqs)  # every append that returned is there
    return seqs


def test_kill_inside_a_write_loses_only_the_uncommitted_event(tmp_path):
    proc = _writer(tmp_path, "inside")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert _check_intact(tmp_path / "o.sqlite", [int(x) for x in out.split()]) == [1, 2, 3]
    assert Outbox(tmp_path / "o.sqlite").append(payload) == 4  # the seq the crash never committed


def test_kill_at_any_moment_of_a_stream_of_writes(tmp_path):
    for round_ in range(3):
        proc = _writer(tmp_path, "loop")
        time.sleep(0.4 + 0.3 * round_)
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
        committed = [int(x) for x in out.split()]
        assert committed, "the writer never committed anything"
        seqs = _check_intact(tmp_path / "o.sqlite", committed)
        assert seqs[-1] - committed[-1] <= 1  # at most the one whose "done" was not printed yet


def test_an_acked_face_crop_leaves_no_trace_in_the_file(tmp_path):
    # deleted SQLite rows stay readable in free pages unless overwritten: a crop must really go
    ob = Outbox(tmp_path / "o.sqlite")
    crop = b"FACE-CROP-" + os.urandom(16).hex().encode() + os.urandom(6000).hex().encode()  # ~12 KB, as sent
    ob.append(lambda seq: (f"ev-{seq}", b'{"face_jpeg": "' + crop + b'"}'))
    ob.append(payload)  # a later event stays in the outbox
    ob.ack(1)
    ob.close()  # the last connection checkpoints the WAL into the database file
    for f in tmp_path.iterdir():
        assert crop[:42] not in f.read_bytes(), f.name
