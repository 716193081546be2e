"""The embedded broker writes whole message files or none."""

from __future__ import annotations

import json

from kombu import Connection

from controlplane.core import broker


def test_filesystem_urls_use_the_atomic_transport(tmp_path):
    broker.install()
    folder = tmp_path / "q"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    with Connection("filesystem://", transport_options=options) as conn:
        assert isinstance(conn.transport, broker.Transport)
        queue = conn.SimpleQueue("jobs")
        queue.put({"job": 1})
        # then exactly one complete message file is visible, and no partial file is left behind
        files = list(folder.iterdir())
        assert [f.name.partition(".")[2] for f in files] == ["jobs.msg"]
        json.loads(files[0].read_bytes())
        # and it is consumed as sent
        assert queue.get(timeout=2).payload == {"job": 1}
        queue.close()


def test_a_partial_file_is_invisible_to_readers(tmp_path):
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "1_x.jobs.msg.tmp").write_bytes(b'{"trunc')
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "control_folder": str(tmp_path)}
    broker.install()
    with Connection("filesystem://", transport_options=options) as conn:
        queue = conn.SimpleQueue("jobs")
        try:
            queue.get(timeout=0.2)
            raise AssertionError("a partial file was delivered")
        except queue.Empty:
            pass
        queue.close()
