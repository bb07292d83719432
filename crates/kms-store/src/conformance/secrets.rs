//! Secrets: versions and stages moved together, compare-and-set on the revision, purge
//! taking versions and tags with the secret.

use super::*;

pub(super) async fn run(store: &dyn Store) {
    use kms_types::{SecretName, SecretVersionId, VersionStage};

    use crate::{SecretRecord, SecretVersionRecord, VersionChange};

    let name = SecretName::parse("app/db-password").unwrap();
    let vid = |s: &str| SecretVersionId::parse(s).unwrap();
    let stage = |s: &str| VersionStage::parse(s).unwrap();
    let version = |id: &str, t: i64, stages: &[&str]| SecretVersionRecord {
        version_id: vid(id),
        created_at: t,
        data_type: "text".into(),
        sealed: vec![t as u8; 48],
        stages: stages.iter().map(|s| stage(s)).collect(),
    };
    let secret = SecretRecord {
        name: name.clone(),
        description: "the database, ü".into(),
        encryption_key_id: KeyId::generate(),
        created_at: 10,
        updated_at: 10,
        planned_delete_at: None,
        revision: 0,
        dkms_instance_id: None,
    };
    let tag = Tag::new("team", "payments").unwrap();
    store.insert_secret(&secret, &version("v1", 10, &["ACSCurrent"]), std::slice::from_ref(&tag)).await.unwrap();
    assert!(matches!(
        store.insert_secret(&secret, &version("v1", 10, &["ACSCurrent"]), &[]).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.get_secret(&name).await.unwrap(), Some(secret.clone()));
    assert_eq!(store.get_secret(&SecretName::parse("absent").unwrap()).await.unwrap(), None);
    assert_eq!(store.get_secret_version(&name, &vid("v1")).await.unwrap(), Some(version("v1", 10, &["ACSCurrent"])));
    assert_eq!(store.get_secret_version(&name, &vid("v9")).await.unwrap(), None);
    assert_eq!(store.list_tags(ResourceType::Secret, name.as_str()).await.unwrap(), vec![tag]);

    // A new current version; the old one becomes previous, in one compare-and-set change.
    let moves = [(stage("ACSCurrent"), Some(vid("v2"))), (stage("ACSPrevious"), Some(vid("v1")))];
    let v2 = version("v2", 20, &[]);
    let updated = SecretRecord { updated_at: 20, ..secret.clone() };
    let stored =
        store.change_secret(&updated, VersionChange { add: Some(&v2), stages: &moves, drop: &[] }).await.unwrap();
    assert_eq!(stored, SecretRecord { revision: 1, ..updated.clone() });
    assert_eq!(store.get_secret(&name).await.unwrap(), Some(stored.clone()));
    let listed = store.list_secret_versions(&name).await.unwrap();
    assert_eq!(listed, vec![version("v2", 20, &["ACSCurrent"]), version("v1", 10, &["ACSPrevious"])]);

    // A stale revision, or a version id that exists, changes nothing.
    let v3 = version("v3", 30, &[]);
    assert!(matches!(
        store.change_secret(&updated, VersionChange { add: Some(&v3), ..Default::default() }).await,
        Err(StoreError::Conflict)
    ));
    let again = version("v1", 40, &[]);
    let no_moves = [(stage("ACSCurrent"), Some(vid("v1")))];
    assert!(matches!(
        store.change_secret(&stored, VersionChange { add: Some(&again), stages: &no_moves, drop: &[] }).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(store.list_secret_versions(&name).await.unwrap(), listed, "a refused change is undone whole");
    assert_eq!(store.get_secret(&name).await.unwrap(), Some(stored.clone()));

    // Stages move without a new version; a stage comes off; old versions are dropped.
    let moves = [(stage("ACSNext"), Some(vid("v1"))), (stage("ACSPrevious"), None)];
    let stored = store.change_secret(&stored, VersionChange { stages: &moves, ..Default::default() }).await.unwrap();
    assert_eq!(store.get_secret_version(&name, &vid("v1")).await.unwrap().unwrap().stages, vec![stage("ACSNext")]);
    let stored =
        store.change_secret(&stored, VersionChange { drop: &[vid("v1")], ..Default::default() }).await.unwrap();
    assert_eq!(store.list_secret_versions(&name).await.unwrap(), vec![version("v2", 20, &["ACSCurrent"])]);
    assert!(matches!(
        store
            .change_secret(
                &SecretRecord { name: SecretName::parse("gone").unwrap(), ..stored.clone() },
                VersionChange::default()
            )
            .await,
        Err(StoreError::NotFound)
    ));

    // Listing pages in name order.
    let other = SecretRecord { name: SecretName::parse("a-first").unwrap(), ..secret.clone() };
    store.insert_secret(&other, &version("x", 5, &["ACSCurrent"]), &[]).await.unwrap();
    let page = store.list_secrets(Window { offset: 0, limit: 1 }).await.unwrap();
    assert_eq!((page.total, page.items.len(), page.items[0].name.as_str()), (2, 1, "a-first"));

    // The recovery window: due for purge once it ends; purge removes versions, stages and tags.
    let deleting = SecretRecord { planned_delete_at: Some(100), ..stored.clone() };
    let deleting = store.change_secret(&deleting, VersionChange::default()).await.unwrap();
    assert!(store.secrets_due_for_purge(99, 10).await.unwrap().is_empty());
    assert_eq!(store.secrets_due_for_purge(100, 10).await.unwrap(), vec![deleting.clone()]);
    assert!(matches!(store.purge_secret(&stored).await, Err(StoreError::Conflict)));
    store.purge_secret(&deleting).await.unwrap();
    assert_eq!(store.get_secret(&name).await.unwrap(), None);
    assert!(store.list_secret_versions(&name).await.unwrap().is_empty());
    assert!(store.list_tags(ResourceType::Secret, name.as_str()).await.unwrap().is_empty());
    assert!(matches!(store.purge_secret(&deleting).await, Err(StoreError::NotFound)));
    // The name is free again.
    store.insert_secret(&secret, &version("v1", 50, &["ACSCurrent"]), &[]).await.unwrap();
}
