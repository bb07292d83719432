"""Root-key rotation through the official SDK while it serves (docs/operations.md, "Rotating the
root key"): `kmsd admin root-key rotate` killed with SIGKILL half-way, the server restarted, the
rotation resumed — clients never see an error, everything written before still decrypts,
verifies and reads, and the store ends with every record under the new key. With the root key in
a SoftHSM2 token (KMSD_TEST_ROOT=pkcs11) it moves from the token to a file and back into the
token; otherwise from file to file. On every engine and in the three-node cluster."""

import hashlib
import os
import signal
import subprocess
import threading
import uuid
from pathlib import Path

from conftest import KMSD_BIN, _start_kmsd, _stop_kmsd
from helpers import b64, unb64


def _split(store_args: tuple) -> tuple[tuple, tuple]:
    """(the --store args, the root-key args) of a server's admin arguments."""
    args = list(store_args)
    store = tuple(args[args.index("--store"):args.index("--store") + 2]) if "--store" in args else ()
    return store, tuple(a for a in args if a not in store)


def _rotate_cmd(server, *args: str) -> list[str]:
    kmsd = str(Path(KMSD_BIN).with_name("kmsd"))
    return [kmsd, "admin", "root-key", *args, "--data-dir", str(server.data_dir), *server.store_args]


def _env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("KMSD_STORE", "KMSD_DATA_DIR")}


def _status(server) -> dict:
    out = server.admin("status", group="root-key")
    lines = dict(line.split(": ", 1) for line in out.splitlines() if ": " in line)
    ids = set()
    for table in ("key_versions", "access_keys", "data_key_versions"):
        ids |= {kv.split("=")[0] for kv in lines.get(table, "").split() if "=" in kv}
    return {"current": lines["root key"], "rotating_to": lines["rotation in progress to"], "ids": ids}


def _populate(tea) -> dict:
    made = {"blobs": []}
    for spec in ("Aliyun_AES_256", "Aliyun_SM4"):
        key = tea.call("CreateKey", {"KeySpec": spec})["KeyMetadata"]["KeyId"]
        tea.call("CreateKeyVersion", {"KeyId": key})
        text = f"{spec} before the rotation".encode()
        made["blobs"].append((tea.call("Encrypt", {"KeyId": key, "Plaintext": b64(text)})["CiphertextBlob"], text))
    signer = tea.call("CreateKey", {"KeySpec": "RSA_2048", "KeyUsage": "SIGN/VERIFY"})["KeyMetadata"]
    digest = b64(hashlib.sha256(b"signed before the rotation").digest())
    signed = tea.call("AsymmetricSign", {"KeyId": signer["KeyId"], "KeyVersionId": signer["PrimaryKeyVersion"],
                                         "Algorithm": "RSA_PSS_SHA_256", "Digest": digest})
    made["signature"] = (signer["KeyId"], signer["PrimaryKeyVersion"], digest, signed["Value"])
    mac_key = tea.call("CreateKey", {"KeySpec": "HMAC_SHA_256"})["KeyMetadata"]["KeyId"]
    made["mac"] = (mac_key, tea.call("GenerateMac", {"KeyId": mac_key, "Algorithm": "HMAC_SHA_256",
                                                      "Message": b64(b"mac before")})["Mac"])
    tea.call("CreateSecret", {"SecretName": "rotation/db", "SecretData": "pw-before-rotation", "VersionId": "v1"})
    return made


def _check(tea, made: dict, data_key: dict) -> None:
    for blob, text in made["blobs"]:
        assert unb64(tea.call("Decrypt", {"CiphertextBlob": blob})["Plaintext"]) == text
    key_id, version, digest, signature = made["signature"]
    assert tea.call("AsymmetricVerify", {"KeyId": key_id, "KeyVersionId": version, "Algorithm": "RSA_PSS_SHA_256",
                                         "Digest": digest, "Value": signature})["Value"] is True
    tea.call("AsymmetricSign", {"KeyId": key_id, "KeyVersionId": version, "Algorithm": "RSA_PSS_SHA_256",
                                "Digest": digest})
    mac_key, mac = made["mac"]
    assert tea.call("VerifyMac", {"KeyId": mac_key, "Algorithm": "HMAC_SHA_256", "Message": b64(b"mac before"),
                                  "Mac": mac})["Value"] is True
    assert tea.call("GetSecretValue", {"SecretName": "rotation/db"})["SecretData"] == "pw-before-rotation"
    assert tea.call("GetManagedDataKey", {"DataKeyName": "rotation-data-key"})["Plaintext"] == data_key["Plaintext"]


class _Load:
    """Creates keys, encrypts and decrypts on a thread; any failure is kept and re-raised."""

    def __init__(self, server):
        self.stop, self.done, self.errors = threading.Event(), [0], []
        self.client = server.client("tea-v3")
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        try:
            while not self.stop.is_set():
                key = self.client.call("CreateKey", {})["KeyMetadata"]["KeyId"]
                blob = self.client.call("Encrypt", {"KeyId": key, "Plaintext": b64(b"load")})["CiphertextBlob"]
                assert unb64(self.client.call("Decrypt", {"CiphertextBlob": blob})["Plaintext"]) == b"load"
                self.done[0] += 1
        except Exception as e:  # noqa: BLE001 — re-raised in end()
            self.errors.append(e)

    def wait(self, rounds: int) -> None:
        target = self.done[0] + rounds
        while self.done[0] < target and not self.errors and self.thread.is_alive():
            self.stop.wait(0.02)

    def end(self) -> None:
        self.stop.set()
        self.thread.join()
        assert not self.errors, self.errors


def _target(tmp_path: Path, kind: str) -> tuple[tuple, tuple]:
    """(rotate's --to args, the server's root-key args afterwards) for a new key of `kind`."""
    if kind == "file":
        path = tmp_path / f"root-{uuid.uuid4().hex[:8]}.key"
        return ("--to-file", str(path)), ("--root-key-file", str(path))
    uri = f"{os.environ['KMSD_TEST_ROOT_URI_PREFIX']}rotated-{uuid.uuid4().hex}{os.environ['KMSD_TEST_ROOT_URI_SUFFIX']}"
    return ("--to-pkcs11", uri), ("--root-key-pkcs11", uri)


def test_the_root_key_rotates_under_load_through_a_kill_and_a_restart(tmp_path_factory, tmp_path):
    token = bool(os.environ.get("KMSD_TEST_ROOT_URI_PREFIX"))
    server = _start_kmsd(tmp_path_factory.mktemp("rotation"))
    data_dir = server.data_dir
    store, _ = _split(server.store_args)
    try:
        tea = server.client("tea-v3")
        made = _populate(tea)
        server.admin("create", "rotation-data-key", group="datakey")
        data_key = tea.call("GetManagedDataKey", {"DataKeyName": "rotation-data-key"})
        for _ in range(40):
            tea.call("CreateKey", {})
        before = _status(server)
        assert before["rotating_to"] == "none" and len(before["ids"]) == 1, before

        # First leg: to a file (out of the token, in the token configuration), killed half-way.
        to, new_root = _target(tmp_path, "file")
        load = _Load(server)
        load.wait(3)
        rotate = subprocess.Popen(_rotate_cmd(server, "rotate", *to, "--batch", "5", "--pause-ms", "100",
                                              "--settle-secs", "1"),
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_env(), text=True)
        batches = 0
        for line in rotate.stdout:
            if line.startswith("pass 1: key_versions:") and not line.rstrip().endswith(" 0 re-wrapped"):
                batches += 1
                if batches == 3:
                    break
        rotate.send_signal(signal.SIGKILL)
        rotate.wait()
        middle = _status(server)
        assert middle["rotating_to"] != "none" and len(middle["ids"]) == 2, middle
        load.wait(3)
        load.end()
        _check(tea, made, data_key)
    finally:
        _stop_kmsd(server)

    # Restarted on the key it had: it finds the rotation and reads records under both keys.
    server = _start_kmsd(tmp_path_factory.mktemp("rotation-restarted"), restored=(data_dir, server.store_args))
    try:
        _check(server.client("tea-v3"), made, data_key)
        load = _Load(server)
        load.wait(3)
        out = subprocess.run(_rotate_cmd(server, "rotate", *to, "--settle-secs", "1"),
                             capture_output=True, env=_env(), timeout=300, text=True)
        assert out.returncode == 0, out.stderr
        assert "resuming the rotation" in out.stdout and "finished" in out.stdout, out.stdout
        load.wait(3)
        load.end()
        _check(server.client("tea-v3"), made, data_key)
    finally:
        _stop_kmsd(server)

    # On the new key alone: everything opens, and everything names it.
    server = _start_kmsd(tmp_path_factory.mktemp("rotation-new-key"), restored=(data_dir, store + new_root))
    try:
        _check(server.client("tea-v3"), made, data_key)
        after = _status(server)
        assert after["rotating_to"] == "none" and after["ids"] == {after["current"]}, after
        assert not after["ids"] & before["ids"], (before, after)

        # Second leg, uninterrupted: back into the token (or to another file).
        to, newer_root = _target(tmp_path, "pkcs11" if token else "file")
        load = _Load(server)
        load.wait(3)
        out = server.admin("rotate", *to, "--settle-secs", "1", group="root-key")
        assert "finished" in out, out
        load.end()
        _check(server.client("tea-v3"), made, data_key)
    finally:
        _stop_kmsd(server)
    server = _start_kmsd(tmp_path_factory.mktemp("rotation-back"), restored=(data_dir, store + newer_root))
    try:
        _check(server.client("tea-v3"), made, data_key)
        final = _status(server)
        assert final["ids"] == {final["current"]} and final["current"] != after["current"], final
    finally:
        _stop_kmsd(server)
