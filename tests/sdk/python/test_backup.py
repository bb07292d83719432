"""A backup taken while clients keep writing restores into a kmsd that serves everything written
before it, through the official SDK: `kmsd admin backup --to` and `backup verify` on SQLite,
pg_dump/pg_restore and `backup verify --store` on PostgreSQL (the runbook of docs/operations.md)."""

import hashlib
import shutil
import subprocess
import threading
import uuid

from conftest import _start_kmsd, _stop_kmsd
from helpers import b64, unb64


def _store_url(store_args: tuple):
    args = list(store_args)
    return args[args.index("--store") + 1] if "--store" in args else None


def _populate(tea) -> dict:
    made = {}
    key = tea.call("CreateKey", {})["KeyMetadata"]["KeyId"]
    tea.call("CreateAlias", {"AliasName": "alias/backed-up", "KeyId": key})
    made["blobs"] = [(tea.call("Encrypt", {"KeyId": key, "Plaintext": b64(f"before {i}".encode())})["CiphertextBlob"],
                      f"before {i}".encode()) for i in range(5)]
    signer = tea.call("CreateKey", {"KeySpec": "EC_P256", "KeyUsage": "SIGN/VERIFY"})["KeyMetadata"]
    digest = b64(hashlib.sha256(b"signed before").digest())
    signed = tea.call("AsymmetricSign", {"KeyId": signer["KeyId"], "KeyVersionId": signer["PrimaryKeyVersion"],
                                         "Algorithm": "ECDSA_SHA_256", "Digest": digest})
    made["signature"] = (signer["KeyId"], signer["PrimaryKeyVersion"], digest, signed["Value"])
    mac_key = tea.call("CreateKey", {"KeySpec": "HMAC_SHA_256"})["KeyMetadata"]["KeyId"]
    mac = tea.call("GenerateMac", {"KeyId": mac_key, "Algorithm": "HMAC_SHA_256", "Message": b64(b"mac before")})
    made["mac"] = (mac_key, mac["Mac"])
    tea.call("CreateSecret", {"SecretName": "backup/db", "SecretData": "pw-before-backup", "VersionId": "v1"})
    return made


def test_a_backup_taken_under_load_restores_into_a_working_server(tmp_path_factory, tmp_path):
    source = _start_kmsd(tmp_path_factory.mktemp("backup-source"))
    try:
        tea = source.client("tea-v3")
        made = _populate(tea)
        source.admin("create", "backup-data-key", group="datakey")
        data_key = tea.call("GetManagedDataKey", {"DataKeyName": "backup-data-key"})
        keys_before = tea.call("ListKeys", {})["TotalCount"]

        stop, written = threading.Event(), []

        def load():
            writer = source.client("tea-v3")
            while not stop.is_set():
                k = writer.call("CreateKey", {})["KeyMetadata"]["KeyId"]
                written.append(writer.call("Encrypt", {"KeyId": k, "Plaintext": b64(b"load")})["CiphertextBlob"])

        loader = threading.Thread(target=load)
        loader.start()
        while len(written) < 3:
            stop.wait(0.02)
        url = _store_url(source.store_args)
        backup = tmp_path / ("kms.dump" if url else "kms-backup.db")
        try:
            if url:
                subprocess.run(["pg_dump", "--format=custom", f"--file={backup}", url], check=True, timeout=120)
            else:
                assert "backup written" in source.admin("--to", str(backup), group="backup")
        finally:
            stop.set()
            loader.join()
        if not url:
            out = source.admin("verify", str(backup), group="backup")
            assert out.startswith("verified: ") and int(out.split()[1]) >= keys_before, out
        root_key = source.data_dir / "root.key"
        root_args = tuple(a for a in source.store_args if a != "--store" and a != url)
    finally:
        _stop_kmsd(source)

    # Restore, as docs/operations.md says, into a new place.
    restored_dir = tmp_path / "restored"
    restored_dir.mkdir()
    if url:
        name = f"kmsd_restored_{uuid.uuid4().hex}"
        admin_url = url.rsplit("/", 1)[0] + "/postgres"
        subprocess.run(["psql", admin_url, "-q", "-c", f"CREATE DATABASE {name}"], check=True)
        restored_url = url.rsplit("/", 1)[0] + "/" + name
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={restored_url}", str(backup)], check=True, timeout=120)
        store_args = ("--store", restored_url) + root_args
    else:
        shutil.copy(backup, restored_dir / "kms.db")
        store_args = root_args
    if root_key.exists():
        shutil.copy(root_key, restored_dir / "root.key")
    restored = _start_kmsd(tmp_path_factory.mktemp("backup-restored"), restored=(restored_dir, store_args))
    try:
        if url:  # the check the runbook gives for PostgreSQL
            out = restored.admin("verify", group="backup")
            assert out.startswith("verified: ") and int(out.split()[1]) >= keys_before, out
        tea = restored.client("tea-v3")
        for blob, text in made["blobs"]:
            assert unb64(tea.call("Decrypt", {"CiphertextBlob": blob})["Plaintext"]) == text
        key_id, version, digest, signature = made["signature"]
        assert tea.call("AsymmetricVerify", {"KeyId": key_id, "KeyVersionId": version, "Algorithm": "ECDSA_SHA_256",
                                             "Digest": digest, "Value": signature})["Value"] is True
        mac_key, mac = made["mac"]
        assert tea.call("VerifyMac", {"KeyId": mac_key, "Algorithm": "HMAC_SHA_256", "Message": b64(b"mac before"),
                                      "Mac": mac})["Value"] is True
        assert tea.call("GetSecretValue", {"SecretName": "backup/db"})["SecretData"] == "pw-before-backup"
        assert tea.call("GetManagedDataKey", {"DataKeyName": "backup-data-key"})["Plaintext"] == data_key["Plaintext"]
        assert tea.call("DescribeKey", {"KeyId": "alias/backed-up"})["KeyMetadata"]["KeyState"] == "Enabled"
        assert tea.call("ListKeys", {})["TotalCount"] >= keys_before
        # and it keeps working: new keys, new ciphertexts
        fresh = tea.call("CreateKey", {})["KeyMetadata"]["KeyId"]
        blob = tea.call("Encrypt", {"KeyId": fresh, "Plaintext": b64(b"after restore")})["CiphertextBlob"]
        assert unb64(tea.call("Decrypt", {"CiphertextBlob": blob})["Plaintext"]) == b"after restore"
    finally:
        _stop_kmsd(restored)
