//! The SQLite schema, as numbered migrations.

/// Numbered schema migrations; entry `i` takes the schema from version `i` to `i + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE keys (
    key_id              TEXT PRIMARY KEY,
    spec                TEXT NOT NULL,
    usage               TEXT NOT NULL,
    origin              TEXT NOT NULL,
    protection_level    TEXT NOT NULL,
    state               TEXT NOT NULL,
    description         TEXT NOT NULL,
    creator             TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    primary_version     TEXT NOT NULL,
    deletion_protection INTEGER NOT NULL,
    deletion_protection_description TEXT NOT NULL,
    delete_at           INTEGER,
    rotation_interval   INTEGER,
    last_rotation_at    INTEGER NOT NULL,
    next_rotation_at    INTEGER,
    revision            INTEGER NOT NULL
);
CREATE INDEX keys_by_delete_at ON keys(delete_at) WHERE delete_at IS NOT NULL;
CREATE INDEX keys_by_next_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
CREATE TABLE key_versions (
    version_id TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES keys(key_id),
    created_at INTEGER NOT NULL,
    material   BLOB NOT NULL,
    encrypt_count INTEGER NOT NULL DEFAULT 0,
    decrypt_count INTEGER NOT NULL DEFAULT 0,
    last_used_at  INTEGER
);
CREATE INDEX key_versions_by_key ON key_versions(key_id, created_at);
CREATE TABLE aliases (
    alias_name TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES keys(key_id),
    created_at INTEGER NOT NULL
);
CREATE INDEX aliases_by_key ON aliases(key_id, alias_name);
CREATE TABLE tags (
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    tag_key       TEXT NOT NULL,
    tag_value     TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id, tag_key)
);
CREATE INDEX tags_by_key ON tags(resource_type, tag_key, tag_value);
CREATE TABLE nonces (
    access_key_id TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    forget_after  INTEGER NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE TABLE access_keys (
    access_key_id  TEXT PRIMARY KEY,
    wrapped_secret BLOB NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     INTEGER NOT NULL
);
"#,
    r#"
CREATE TABLE secrets (
    secret_name       TEXT PRIMARY KEY,
    description       TEXT NOT NULL,
    encryption_key_id TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    planned_delete_at INTEGER,
    revision          INTEGER NOT NULL
);
CREATE INDEX secrets_by_planned_delete ON secrets(planned_delete_at) WHERE planned_delete_at IS NOT NULL;
CREATE TABLE secret_versions (
    secret_name TEXT NOT NULL REFERENCES secrets(secret_name),
    version_id  TEXT NOT NULL,
    ordinal     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    data_type   TEXT NOT NULL,
    sealed      BLOB NOT NULL,
    PRIMARY KEY (secret_name, version_id)
);
CREATE TABLE secret_stages (
    secret_name TEXT NOT NULL,
    stage       TEXT NOT NULL,
    version_id  TEXT NOT NULL,
    PRIMARY KEY (secret_name, stage),
    FOREIGN KEY (secret_name, version_id) REFERENCES secret_versions(secret_name, version_id)
);
"#,
    r#"
ALTER TABLE keys ADD COLUMN material_expire_at INTEGER;
ALTER TABLE keys ADD COLUMN material_fingerprint TEXT;
CREATE INDEX keys_by_material_expiry ON keys(material_expire_at) WHERE material_expire_at IS NOT NULL;
"#,
    r#"
ALTER TABLE access_keys ADD COLUMN principal TEXT NOT NULL DEFAULT '';
ALTER TABLE access_keys ADD COLUMN policy TEXT;
"#,
    r#"
CREATE TABLE resource_policies (
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    policy        TEXT NOT NULL,
    PRIMARY KEY (resource_type, resource_id)
);
"#,
    // Keys by state, kept by triggers in the transaction of every change to `keys` (so no code
    // path can forget one): the metrics read four rows instead of counting the table. Counted
    // once here for the keys that exist.
    r#"
CREATE TABLE key_counts (
    state TEXT PRIMARY KEY,
    n     INTEGER NOT NULL
);
INSERT INTO key_counts (state, n) SELECT state, COUNT(*) FROM keys GROUP BY state;
CREATE TRIGGER key_counts_insert AFTER INSERT ON keys BEGIN
    INSERT INTO key_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER key_counts_delete AFTER DELETE ON keys BEGIN
    UPDATE key_counts SET n = n - 1 WHERE state = OLD.state;
END;
CREATE TRIGGER key_counts_state AFTER UPDATE OF state ON keys WHEN OLD.state IS NOT NEW.state BEGIN
    UPDATE key_counts SET n = n - 1 WHERE state = OLD.state;
    INSERT INTO key_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT (state) DO UPDATE SET n = n + 1;
END;
"#,
    // KMS instances (docs/design/instances.md): released ones stay as tombstones.
    r#"
CREATE TABLE instances (
    instance_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    spec        INTEGER NOT NULL,
    key_num     INTEGER NOT NULL,
    secret_num  INTEGER NOT NULL,
    vpc_num     INTEGER NOT NULL,
    vpc_id      TEXT,
    zone_ids    TEXT NOT NULL,
    vswitch_ids TEXT NOT NULL,
    bind_vpcs   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    released    INTEGER NOT NULL,
    revision    INTEGER NOT NULL
);
ALTER TABLE keys ADD COLUMN dkms_instance_id TEXT;
ALTER TABLE secrets ADD COLUMN dkms_instance_id TEXT;
CREATE INDEX keys_by_instance ON keys (dkms_instance_id) WHERE dkms_instance_id IS NOT NULL;
CREATE INDEX secrets_by_instance ON secrets (dkms_instance_id) WHERE dkms_instance_id IS NOT NULL;
"#,
    // Application access (docs/design/instances.md §4) and instance deletion protection.
    r#"
ALTER TABLE instances ADD COLUMN deletion_protection INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN deletion_protection_description TEXT NOT NULL DEFAULT '';
CREATE TABLE access_objects (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revision   INTEGER NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE client_keys (
    client_key_id   TEXT PRIMARY KEY,
    aap_name        TEXT NOT NULL,
    key_algorithm   TEXT NOT NULL,
    not_before      TEXT NOT NULL,
    not_after       TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX client_keys_by_aap ON client_keys (aap_name, created_at);
"#,
    // The change counter of application access (AccessStore::access_generation), kept by
    // triggers so that every change, by any node or kmsd version, moves it.
    r#"
CREATE TABLE access_generation (n INTEGER NOT NULL);
INSERT INTO access_generation (n) VALUES (0);
CREATE TRIGGER access_objects_insert AFTER INSERT ON access_objects BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER access_objects_update AFTER UPDATE ON access_objects BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER access_objects_delete AFTER DELETE ON access_objects BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER client_keys_insert AFTER INSERT ON client_keys BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER client_keys_update AFTER UPDATE ON client_keys BEGIN UPDATE access_generation SET n = n + 1; END;
CREATE TRIGGER client_keys_delete AFTER DELETE ON client_keys BEGIN UPDATE access_generation SET n = n + 1; END;
"#,
    // Managed data keys (DataKeyStore): versions in the order they were added.
    r#"
CREATE TABLE data_key_versions (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL,
    version_id TEXT NOT NULL,
    material   BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (name, version_id)
);
CREATE INDEX data_key_versions_by_name ON data_key_versions (name, seq);
"#,
];
