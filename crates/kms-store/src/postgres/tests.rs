//! PostgreSQL engine tests: the shared conformance suite on a fresh database.

use super::*;
use crate::KeyStore as _;
use tokio_postgres::NoTls;

/// A fresh, empty database on the server `KMSD_TEST_POSTGRES_URL` names (scripts/test.sh
/// starts one); dropped when the guard goes. Without the variable the engine's tests fail
/// rather than pass untested.
pub(crate) async fn fresh_database() -> (String, impl Drop) {
    let admin = std::env::var("KMSD_TEST_POSTGRES_URL").expect(
        "KMSD_TEST_POSTGRES_URL names the PostgreSQL server the engine's tests run on \
         (scripts/test.sh sets it; `bash scripts/postgres.sh` starts one and prints it)",
    );
    let name = format!("kmsd_test_{}", uuid::Uuid::new_v4().simple());
    let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.expect("connect to the test server");
    tokio::spawn(conn);
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
    // The admin URL names a database (`…/postgres`); the test's URL names the new one.
    let (base, _) = admin.split_once('?').unwrap_or((&admin, "")).0.rsplit_once('/').expect("a URL ending in /dbname");
    let url = format!("{base}/{name}");
    struct DropDatabase(String, String);
    impl Drop for DropDatabase {
        fn drop(&mut self) {
            let (admin, name) = (self.0.clone(), self.1.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    if let Ok((c, conn)) = tokio_postgres::connect(&admin, NoTls).await {
                        tokio::spawn(conn);
                        let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    }
                })
            })
            .join();
        }
    }
    (url, DropDatabase(admin, name))
}

#[tokio::test]
async fn postgres_passes_the_conformance_suite() {
    let (url, _guard) = fresh_database().await;
    // Through the time limit kmsd puts in front of it: every call must pass it unchanged.
    let store = crate::timed::Timed::new(PostgresStore::open(&url).await.unwrap(), DEFAULT_TIMEOUT);
    crate::conformance::run(&store).await;
    // Opening again (a second node, or a restart) finds the schema current.
    PostgresStore::open(&url).await.unwrap();
}

/// A database from before the key counts (keys inserted as kmsd then did): opening it counts
/// the keys there once, and the counts follow every change from then on.
#[tokio::test]
async fn the_key_counts_migration_counts_the_keys_already_there() {
    use kms_types::KeyState::*;
    let (url, _guard) = fresh_database().await;
    let at = MIGRATIONS.iter().position(|m| m.contains("CREATE TABLE key_counts")).unwrap();
    {
        let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        client.batch_execute("CREATE TABLE kmsd_schema (version INTEGER NOT NULL)").await.unwrap();
        for m in &MIGRATIONS[..at] {
            client.batch_execute(m).await.unwrap();
        }
        client.execute("INSERT INTO kmsd_schema (version) VALUES ($1)", &[&(at as i32)]).await.unwrap();
        for (i, state) in ["Enabled", "Disabled", "Enabled", "PendingDeletion", "Enabled"].iter().enumerate() {
            client
                .execute(
                    "INSERT INTO keys (key_id, spec, usage, origin, protection_level, state, description, creator,
                     created_at, primary_version, deletion_protection, deletion_protection_description,
                     last_rotation_at, revision)
                     VALUES ($1, 'Aliyun_AES_256', 'ENCRYPT/DECRYPT', 'Aliyun_KMS', 'SOFTWARE', $2, '', '1', 1, $3,
                     false, '', 1, 0)",
                    &[&format!("key-{i}"), state, &format!("key-version-{i}")],
                )
                .await
                .unwrap();
        }
    }
    let store = PostgresStore::open(&url).await.unwrap();
    let counted = vec![(Enabled, 3), (Disabled, 1), (PendingDeletion, 1), (PendingImport, 0)];
    assert_eq!(store.count_keys_by_state().await.unwrap(), counted);
    let (k, v) = crate::conformance::key(2, PendingImport);
    store.insert_key(&k, &v, &[]).await.unwrap();
    store.update_key(&KeyRecord { state: Disabled, ..k }).await.unwrap();
    let counted = vec![(Enabled, 3), (Disabled, 2), (PendingDeletion, 1), (PendingImport, 0)];
    assert_eq!(store.count_keys_by_state().await.unwrap(), counted);
}

/// Two nodes changing keys at once — inserts, state changes both ways, destruction — all
/// succeed (no change waits on another in a cycle) and leave the counts equal to a real count.
#[tokio::test]
async fn concurrent_key_changes_on_two_nodes_keep_the_counts() {
    use kms_types::{KeyFilter, KeyState::*};
    let (url, _guard) = fresh_database().await;
    let nodes = [PostgresStore::open(&url).await.unwrap(), PostgresStore::open(&url).await.unwrap()];
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..16 {
        let store = nodes[t % 2].clone();
        tasks.spawn(async move {
            for i in 0..12 {
                let (k, v) = crate::conformance::key(i, if i % 2 == 0 { Enabled } else { Disabled });
                store.insert_key(&k, &v, &[]).await.unwrap();
                let k = store.update_key(&KeyRecord { state: if i % 2 == 0 { Disabled } else { Enabled }, ..k }).await;
                let k = store.update_key(&KeyRecord { state: PendingDeletion, ..k.unwrap() }).await.unwrap();
                if i % 3 == 0 {
                    store.destroy_key(&k).await.unwrap();
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let mut real = Vec::new();
    for s in KeyState::ALL {
        let filter = KeyFilter { states: Some(vec![*s]), ..Default::default() };
        real.push((*s, nodes[0].list_keys(&filter, Window { offset: 0, limit: 0 }).await.unwrap().total));
    }
    assert_eq!(real, vec![(Enabled, 0), (Disabled, 0), (PendingDeletion, 16 * 8), (PendingImport, 0)]);
    assert_eq!(nodes[1].count_keys_by_state().await.unwrap(), real);
}

/// Two nodes race a ClientKey insert against the delete of its AAP, many times: whichever
/// wins, no ClientKey is left whose AAP is gone.
#[tokio::test]
async fn a_client_key_never_outlives_its_aap_across_nodes() {
    use crate::{AccessKind, AccessObjectRecord, AccessStore, ClientKeyRecord};
    let (url, _guard) = fresh_database().await;
    let (a, b) = (PostgresStore::open(&url).await.unwrap(), PostgresStore::open(&url).await.unwrap());
    let (mut inserted, mut deleted) = (0, 0);
    for i in 0..60 {
        let name = format!("aap-{i}");
        let aap = AccessObjectRecord {
            kind: AccessKind::AccessPoint,
            name: name.clone(),
            body: "{}".into(),
            created_at: i,
            revision: 1,
        };
        a.insert_access_object(&aap).await.unwrap();
        let key = ClientKeyRecord {
            id: format!("KAAP.{i}"),
            aap_name: name.clone(),
            key_algorithm: "RSA_2048".into(),
            not_before: String::new(),
            not_after: String::new(),
            certificate_pem: String::new(),
            created_at: i,
        };
        let (insert, delete) =
            tokio::join!(a.insert_client_key(&key), b.delete_access_object(AccessKind::AccessPoint, &name));
        let aap_left = b.get_access_object(AccessKind::AccessPoint, &name).await.unwrap().is_some();
        let key_left = a.get_client_key(&key.id).await.unwrap().is_some();
        match (insert, delete) {
            (Ok(()), Err(StoreError::InUse)) => inserted += 1,
            (Err(StoreError::NotFound), Ok(())) => deleted += 1,
            other => panic!("round {i}: {other:?}"),
        }
        assert_eq!(aap_left, key_left, "round {i}: a ClientKey without its AAP, or the reverse");
    }
    assert_eq!(inserted + deleted, 60);
}

/// The conformance suite holds through the lookup cache kmsd puts in front of PostgreSQL.
#[tokio::test]
async fn postgres_behind_the_lookup_cache_passes_the_conformance_suite() {
    let (url, _guard) = fresh_database().await;
    let store = PostgresStore::open(&url).await.unwrap();
    store.watch_lookups();
    crate::conformance::run(&crate::cache::Cached::new(store)).await;
}

/// Two nodes, the first caching its lookups: a change made through the second is served by
/// the first as soon as a request's nonce round trip has read the database's lookup
/// generation — a change acknowledged before a request was sent is seen by that request.
#[tokio::test]
async fn a_change_through_another_node_is_seen_by_the_next_request() {
    use kms_types::KeyState::*;
    let (url, _guard) = fresh_database().await;
    let (a, b) = (PostgresStore::open(&url).await.unwrap(), PostgresStore::open(&url).await.unwrap());
    let cached = crate::cache::Cached::new(a.clone());
    let (k, v) = crate::conformance::key(1, Enabled);
    b.insert_key(&k, &v, &[]).await.unwrap();
    let alias = AliasRecord { name: AliasName::parse("alias/watched").unwrap(), key_id: k.id.clone(), created_at: 1 };
    b.insert_alias(&alias).await.unwrap();
    let (k2, v2) = crate::conformance::key(2, Enabled);
    b.insert_key(&k2, &v2, &[]).await.unwrap();
    assert_eq!(cached.get_key(&k.id).await.unwrap().unwrap().state, Enabled);
    assert_eq!(cached.get_alias(&alias.name).await.unwrap().unwrap().key_id, k.id);

    b.update_key(&KeyRecord { state: Disabled, ..k.clone() }).await.unwrap();
    b.update_alias(&alias.name, &k2.id).await.unwrap();
    // No request yet, no watch: the cache still holds what it read (this is what the next
    // step must change).
    assert_eq!(cached.get_key(&k.id).await.unwrap().unwrap().state, Enabled);
    // A request's replay-guard round trip through this node.
    assert!(cached.record_nonce("LTAIwatch", "n-1", 100, 1000).await.unwrap());
    assert_eq!(cached.get_key(&k.id).await.unwrap().unwrap().state, Disabled);
    assert_eq!(cached.get_alias(&alias.name).await.unwrap().unwrap().key_id, k2.id);
    // A second record of the same nonce is still a replay, generation or not.
    assert!(!cached.record_nonce("LTAIwatch", "n-1", 100, 1000).await.unwrap());
}

/// With the watch, a change through another node reaches a caching node within a second
/// without any request in between (background jobs and the instance gateway rely on this).
#[tokio::test]
async fn a_watching_node_hears_a_change_within_a_second() {
    use kms_types::KeyState::*;
    let (url, _guard) = fresh_database().await;
    let (a, b) = (PostgresStore::open(&url).await.unwrap(), PostgresStore::open(&url).await.unwrap());
    a.watch_lookups();
    let cached = crate::cache::Cached::new(a);
    let (k, v) = crate::conformance::key(1, Enabled);
    b.insert_key(&k, &v, &[]).await.unwrap();
    // Let the watch stand before the change it must hear.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(cached.get_key(&k.id).await.unwrap().unwrap().state, Enabled);
    let before = cached.lookups_generation();
    b.update_key(&KeyRecord { state: Disabled, ..k.clone() }).await.unwrap();
    let changed = std::time::Instant::now();
    loop {
        if cached.get_key(&k.id).await.unwrap().unwrap().state == Disabled {
            break;
        }
        assert!(changed.elapsed() < std::time::Duration::from_secs(1), "not heard within a second");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_ne!(cached.lookups_generation(), before);
}

/// Changes to keys through two connections at once do not queue behind each other on the
/// lookup generation (each moves its own slot), and each moves the generation nodes read.
#[tokio::test]
async fn concurrent_lookup_changes_do_not_wait_for_each_other() {
    use kms_types::KeyState::Enabled;
    let (url, _guard) = fresh_database().await;
    let store = PostgresStore::open(&url).await.unwrap();
    let ((k1, v1), (k2, v2)) = (crate::conformance::key(1, Enabled), crate::conformance::key(2, Enabled));
    store.insert_key(&k1, &v1, &[]).await.unwrap();
    store.insert_key(&k2, &v2, &[]).await.unwrap();
    let connect = || async {
        let (c, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        c
    };
    let first = connect().await;
    let first_slot: i32 = first.query_one("SELECT pg_backend_pid() % 16", &[]).await.unwrap().get(0);
    let second = loop {
        let c = connect().await;
        let s: i32 = c.query_one("SELECT pg_backend_pid() % 16", &[]).await.unwrap().get(0);
        if s != first_slot {
            break c;
        }
    };
    const GENERATION: &str = "SELECT SUM(n)::BIGINT FROM lookup_generation";
    let before: i64 = first.query_one(GENERATION, &[]).await.unwrap().get(0);
    let change = |k: &KeyId| format!("UPDATE keys SET description = 'changed' WHERE key_id = '{}'", k.as_str());
    first.batch_execute(&format!("BEGIN; {}", change(&k1.id))).await.unwrap();
    // With one generation row, this change would wait for the first one's commit.
    tokio::time::timeout(std::time::Duration::from_secs(2), second.batch_execute(&change(&k2.id)))
        .await
        .expect("the second change waited for the first to commit")
        .unwrap();
    first.batch_execute("COMMIT").await.unwrap();
    let after: i64 = second.query_one(GENERATION, &[]).await.unwrap().get(0);
    assert_eq!(after, before + 2, "each change moved the generation");
}
