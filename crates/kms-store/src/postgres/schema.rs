//! The PostgreSQL schema, as numbered migrations.

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
    created_at          BIGINT NOT NULL,
    primary_version     TEXT NOT NULL,
    deletion_protection BOOLEAN NOT NULL,
    deletion_protection_description TEXT NOT NULL,
    delete_at           BIGINT,
    rotation_interval   BIGINT,
    last_rotation_at    BIGINT NOT NULL,
    next_rotation_at    BIGINT,
    revision            BIGINT NOT NULL
);
CREATE INDEX keys_by_created ON keys(created_at, key_id);
CREATE INDEX keys_by_delete_at ON keys(delete_at) WHERE delete_at IS NOT NULL;
CREATE INDEX keys_by_next_rotation ON keys(next_rotation_at) WHERE next_rotation_at IS NOT NULL;
CREATE TABLE key_versions (
    version_id    TEXT PRIMARY KEY,
    key_id        TEXT NOT NULL REFERENCES keys(key_id),
    created_at    BIGINT NOT NULL,
    material      BYTEA NOT NULL,
    encrypt_count BIGINT NOT NULL DEFAULT 0,
    decrypt_count BIGINT NOT NULL DEFAULT 0,
    last_used_at  BIGINT
);
CREATE INDEX key_versions_by_key ON key_versions(key_id, created_at);
CREATE TABLE aliases (
    alias_name TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL REFERENCES keys(key_id),
    created_at BIGINT NOT NULL
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
-- Unlogged at first; logged since migration 6 (a crash must not forget them).
CREATE UNLOGGED TABLE nonces (
    access_key_id TEXT NOT NULL,
    nonce         TEXT NOT NULL,
    forget_after  BIGINT NOT NULL,
    PRIMARY KEY (access_key_id, nonce)
);
CREATE TABLE access_keys (
    access_key_id  TEXT PRIMARY KEY,
    wrapped_secret BYTEA NOT NULL,
    enabled        BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL
);
"#,
    r#"
CREATE TABLE secrets (
    secret_name       TEXT PRIMARY KEY,
    description       TEXT NOT NULL,
    encryption_key_id TEXT NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    planned_delete_at BIGINT,
    revision          BIGINT NOT NULL
);
CREATE INDEX secrets_by_planned_delete ON secrets(planned_delete_at) WHERE planned_delete_at IS NOT NULL;
CREATE TABLE secret_versions (
    secret_name TEXT NOT NULL REFERENCES secrets(secret_name),
    version_id  TEXT NOT NULL,
    ordinal     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    data_type   TEXT NOT NULL,
    sealed      BYTEA NOT NULL,
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
ALTER TABLE keys ADD COLUMN material_expire_at BIGINT;
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
    // Logged after all: a PostgreSQL crash empties unlogged tables, and with them every node's
    // memory of the nonces another node accepted — a captured request could then be replayed
    // to another node within its window.
    r#"
ALTER TABLE nonces SET LOGGED;
"#,
    // Keys by state, kept by triggers in the transaction of every change to `keys` — whichever
    // node, or whichever kmsd version, makes it — so the metrics read a few rows instead of
    // counting the table. Each state's count is spread over 16 rows (`slot`, from the key id)
    // and read as their sum: concurrent changes to different keys rarely wait on the same row.
    // A change that moves a key between states takes its two rows in state order, so two such
    // changes never wait on each other in opposite orders. The slot only spreads the writers:
    // any slot gives the same sums. The table is locked while the keys that exist are counted
    // once, so no change lands between the count and the triggers.
    r#"
LOCK TABLE keys IN SHARE ROW EXCLUSIVE MODE;
CREATE TABLE key_counts (
    state TEXT NOT NULL,
    slot  SMALLINT NOT NULL,
    n     BIGINT NOT NULL,
    PRIMARY KEY (state, slot)
);
CREATE FUNCTION kmsd_key_slot(TEXT) RETURNS SMALLINT LANGUAGE SQL IMMUTABLE
    AS $$ SELECT (hashtext($1) & 15)::SMALLINT $$;
CREATE FUNCTION kmsd_count_key(TEXT, TEXT, BIGINT) RETURNS VOID LANGUAGE SQL
    AS $$ INSERT INTO key_counts (state, slot, n) VALUES ($1, kmsd_key_slot($2), $3)
          ON CONFLICT (state, slot) DO UPDATE SET n = key_counts.n + excluded.n $$;
CREATE FUNCTION kmsd_keys_counted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM kmsd_count_key(NEW.state, NEW.key_id, 1);
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM kmsd_count_key(OLD.state, OLD.key_id, -1);
    ELSIF OLD.state COLLATE "C" < NEW.state COLLATE "C" THEN
        PERFORM kmsd_count_key(OLD.state, OLD.key_id, -1);
        PERFORM kmsd_count_key(NEW.state, NEW.key_id, 1);
    ELSE
        PERFORM kmsd_count_key(NEW.state, NEW.key_id, 1);
        PERFORM kmsd_count_key(OLD.state, OLD.key_id, -1);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER key_counts_insert_delete AFTER INSERT OR DELETE ON keys
    FOR EACH ROW EXECUTE FUNCTION kmsd_keys_counted();
CREATE TRIGGER key_counts_state AFTER UPDATE OF state ON keys
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION kmsd_keys_counted();
INSERT INTO key_counts (state, slot, n) SELECT state, kmsd_key_slot(key_id), COUNT(*) FROM keys GROUP BY 1, 2;
"#,
    // KMS instances (docs/design/instances.md): released ones stay as tombstones.
    r#"
CREATE TABLE instances (
    instance_id TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL,
    spec        BIGINT NOT NULL,
    key_num     BIGINT NOT NULL,
    secret_num  BIGINT NOT NULL,
    vpc_num     BIGINT NOT NULL,
    vpc_id      TEXT,
    zone_ids    TEXT NOT NULL,
    vswitch_ids TEXT NOT NULL,
    bind_vpcs   TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    started_at  BIGINT,
    released    BOOLEAN NOT NULL,
    revision    BIGINT NOT NULL
);
ALTER TABLE keys ADD COLUMN dkms_instance_id TEXT;
ALTER TABLE secrets ADD COLUMN dkms_instance_id TEXT;
CREATE INDEX keys_by_instance ON keys (dkms_instance_id) WHERE dkms_instance_id IS NOT NULL;
CREATE INDEX secrets_by_instance ON secrets (dkms_instance_id) WHERE dkms_instance_id IS NOT NULL;
"#,
    // Application access (docs/design/instances.md §4) and instance deletion protection.
    r#"
ALTER TABLE instances ADD COLUMN deletion_protection BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE instances ADD COLUMN deletion_protection_description TEXT NOT NULL DEFAULT '';
CREATE TABLE access_objects (
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revision   BIGINT NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE client_keys (
    client_key_id   TEXT PRIMARY KEY,
    aap_name        TEXT NOT NULL,
    key_algorithm   TEXT NOT NULL,
    not_before      TEXT NOT NULL,
    not_after       TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX client_keys_by_aap ON client_keys (aap_name, created_at);
"#,
    // The change counter of application access (AccessStore::access_generation), kept by
    // triggers so that every change, by any node or kmsd version, moves it.
    r#"
CREATE TABLE access_generation (n BIGINT NOT NULL);
INSERT INTO access_generation (n) VALUES (0);
CREATE FUNCTION kmsd_access_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    UPDATE access_generation SET n = n + 1;
    RETURN NULL;
END $$;
CREATE TRIGGER access_objects_changed AFTER INSERT OR UPDATE OR DELETE ON access_objects
    FOR EACH ROW EXECUTE FUNCTION kmsd_access_changed();
CREATE TRIGGER client_keys_changed AFTER INSERT OR UPDATE OR DELETE ON client_keys
    FOR EACH ROW EXECUTE FUNCTION kmsd_access_changed();
"#,
    // Managed data keys (DataKeyStore): versions in the order they were added.
    r#"
CREATE TABLE data_key_versions (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT NOT NULL,
    version_id TEXT NOT NULL,
    material   BYTEA NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (name, version_id)
);
CREATE INDEX data_key_versions_by_name ON data_key_versions (name, seq);
"#,
    // The generation of the lookup tables nodes cache (Store::lookups_generation): moved by
    // every change to a key, alias, secret, secret version or stage a cached entry could hold,
    // in the change's own transaction, and announced on `kmsd_lookups` when it commits. New
    // keys, aliases and secrets need no move: a cache holds only what it found.
    r#"
CREATE TABLE lookup_generation (n BIGINT NOT NULL);
INSERT INTO lookup_generation (n) VALUES (0);
CREATE FUNCTION kmsd_lookups_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
DECLARE
    moved BIGINT;
BEGIN
    UPDATE lookup_generation SET n = n + 1 RETURNING n INTO moved;
    PERFORM pg_notify('kmsd_lookups', moved::text);
    RETURN NULL;
END $$;
CREATE TRIGGER keys_lookups_changed AFTER UPDATE OR DELETE ON keys
    FOR EACH STATEMENT EXECUTE FUNCTION kmsd_lookups_changed();
CREATE TRIGGER aliases_lookups_changed AFTER UPDATE OR DELETE ON aliases
    FOR EACH STATEMENT EXECUTE FUNCTION kmsd_lookups_changed();
CREATE TRIGGER secrets_lookups_changed AFTER UPDATE OR DELETE ON secrets
    FOR EACH STATEMENT EXECUTE FUNCTION kmsd_lookups_changed();
CREATE TRIGGER secret_versions_lookups_changed AFTER INSERT OR UPDATE OR DELETE ON secret_versions
    FOR EACH STATEMENT EXECUTE FUNCTION kmsd_lookups_changed();
CREATE TRIGGER secret_stages_lookups_changed AFTER INSERT OR UPDATE OR DELETE ON secret_stages
    FOR EACH STATEMENT EXECUTE FUNCTION kmsd_lookups_changed();
"#,
    // The lookup generation in 16 slots, read as their sum: one row would make every change to
    // a key, alias or secret, through any node, wait for the change before it to commit. A
    // change moves its connection's slot; every committed change still moves the sum, which
    // never goes back. The notification carries no number (a sum seen inside one uncommitted
    // change is not one any reader will see); listeners read the sum when they hear it.
    r#"
ALTER TABLE lookup_generation ADD COLUMN slot INT NOT NULL DEFAULT 0 PRIMARY KEY;
INSERT INTO lookup_generation (slot, n) SELECT s, 0 FROM generate_series(1, 15) AS s;
CREATE OR REPLACE FUNCTION kmsd_lookups_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    UPDATE lookup_generation SET n = n + 1 WHERE slot = pg_backend_pid() % 16;
    PERFORM pg_notify('kmsd_lookups', '');
    RETURN NULL;
END $$;
"#,
];

/// Any fixed number: the advisory lock that serialises migrations across nodes.
pub(super) const MIGRATION_LOCK: i64 = 0x6b6d_7364;
