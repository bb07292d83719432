//! Keys, versions and aliases on PostgreSQL. Each change also moves the lookup generation
//! (by the schema's triggers), which is how other nodes' caches learn of it.

use super::*;
use crate::KeyStore;

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_key(&self, key: &KeyRecord, first_version: &VersionRecord, tags: &[Tag]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        if let Some(instance) = &key.dkms_instance_id {
            instances::check_room(&tx, instance, crate::InstanceQuota::Keys).await?;
        }
        let values = KeyValues::new(key);
        tx.execute(
            &format!("INSERT INTO keys ({KEY_COLUMNS}) VALUES ({})", placeholders(KEY_COLUMN_COUNT)),
            &values.params(),
        )
        .await
        .map_err(conflict_or_unavailable)?;
        insert_version(&tx, first_version).await?;
        put_tags_in(&tx, ResourceType::Key, &values.id, tags, usize::MAX).await?;
        tx.commit().await.map_err(unavailable)
    }

    async fn get_key(&self, id: &KeyId) -> StoreResult<Option<KeyRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM keys WHERE key_id = $1"))
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&id.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(key_record).transpose()
    }

    async fn get_version(&self, id: &KeyVersionId) -> StoreResult<Option<VersionRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!("SELECT {VERSION_COLUMNS} FROM key_versions WHERE version_id = $1"))
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&id.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(version_record).transpose()
    }

    async fn add_version_usage(&self, usage: &[(KeyVersionId, VersionUsage)]) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stmt = tx
            .prepare(
                "UPDATE key_versions SET encrypt_count = encrypt_count + $2, decrypt_count = decrypt_count + $3,
                 last_used_at = GREATEST(COALESCE(last_used_at, 0), COALESCE($4::bigint, 0)) WHERE version_id = $1",
            )
            .await
            .map_err(unavailable)?;
        for (id, u) in usage {
            tx.execute(&stmt, &[&id.as_str(), &(u.encrypts as i64), &(u.decrypts as i64), &u.last_used_at])
                .await
                .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)
    }

    async fn update_key(&self, key: &KeyRecord) -> StoreResult<KeyRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = update_key_in(&tx, key).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn add_version(&self, key: &KeyRecord, version: &VersionRecord) -> StoreResult<KeyRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = update_key_in(&tx, key).await?;
        insert_version(&tx, version).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn set_key_material(
        &self,
        key: &KeyRecord,
        version: &KeyVersionId,
        material: &[u8],
    ) -> StoreResult<KeyRecord> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let stored = update_key_in(&tx, key).await?;
        let n = tx
            .execute(
                "UPDATE key_versions SET material = $2 WHERE version_id = $1 AND key_id = $3",
                &[&version.as_str(), &material, &key.id.as_str()],
            )
            .await
            .map_err(unavailable)?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(stored)
    }

    async fn keys_with_expired_material(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        keys_where(&*self.client().await?, "material_expire_at <= $1", now, limit).await
    }

    async fn list_versions(&self, key: &KeyId, window: Window) -> StoreResult<Listing<VersionRecord>> {
        let c = self.client().await?;
        let total: i64 = c
            .query_one("SELECT COUNT(*) FROM key_versions WHERE key_id = $1", &[&key.as_str()])
            .await
            .map_err(unavailable)?
            .get(0);
        let rows = c
            .query(
                &format!(
                    "SELECT {VERSION_COLUMNS} FROM key_versions WHERE key_id = $1 ORDER BY created_at DESC, version_id DESC LIMIT $2 OFFSET $3"
                ),
                &[&key.as_str(), &i64::from(window.limit), &(window.offset as i64)],
            )
            .await
            .map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(version_record).collect::<StoreResult<_>>()?, total: total as u64 })
    }

    async fn keys_due_for_deletion(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        keys_where(&*self.client().await?, "state = 'PendingDeletion' AND delete_at <= $1", now, limit).await
    }

    async fn keys_due_for_rotation(&self, now: i64, limit: u32) -> StoreResult<Vec<KeyRecord>> {
        keys_where(&*self.client().await?, "state = 'Enabled' AND next_rotation_at <= $1", now, limit).await
    }

    async fn destroy_key(&self, key: &KeyRecord) -> StoreResult<()> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(unavailable)?;
        let id = key.id.as_str();
        let current = tx
            .query_opt("SELECT revision, state FROM keys WHERE key_id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(unavailable)?;
        let state: String = match current.map(|r| (r.get::<_, i64>(0), r.get(1))) {
            None => return Err(StoreError::NotFound),
            Some((r, _)) if r != key.revision => return Err(StoreError::Conflict),
            Some((_, state)) => state,
        };
        // Every other write takes a key's count row (the `key_counts` trigger) in the statement
        // that locks the key's row, before any other row. Here the key's row goes last (its
        // versions and aliases refer to it), so its count row is taken now instead: waiting for
        // it while holding the versions' rows could close a cycle with a write that holds the
        // count row and waits for a version row.
        tx.execute("SELECT 1 FROM key_counts WHERE state = $1 AND slot = kmsd_key_slot($2) FOR UPDATE", &[&state, &id])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM aliases WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.execute("DELETE FROM tags WHERE resource_type = 'key' AND resource_id = $1", &[&id])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM resource_policies WHERE resource_type = 'key' AND resource_id = $1", &[&id])
            .await
            .map_err(unavailable)?;
        tx.execute("DELETE FROM key_versions WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.execute("DELETE FROM keys WHERE key_id = $1", &[&id]).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)
    }

    async fn count_keys_by_state(&self) -> StoreResult<Vec<(KeyState, u64)>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT state, SUM(n)::BIGINT FROM key_counts GROUP BY state")
            .await
            .map_err(unavailable)?;
        let rows = c.query(&stmt, &[]).await.map_err(unavailable)?;
        crate::counts_by_state(rows.iter().map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1))))
    }

    async fn list_keys(&self, filter: &KeyFilter, window: Window) -> StoreResult<Listing<KeyRecord>> {
        let strings = |v: &Option<Vec<String>>| v.clone();
        let states = filter.states.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let specs = filter.specs.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let usages = filter.usages.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let levels =
            filter.protection_levels.as_ref().map(|v| v.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>());
        let (tag_keys, tag_values) = (strings(&filter.tag_keys), strings(&filter.tag_values));
        let key_ids = strings(&filter.key_ids);
        // NULL means "any": one fixed statement, no SQL assembled from input.
        let clause = "WHERE ($1::text[] IS NULL OR state = ANY($1)) AND ($2::text[] IS NULL OR spec = ANY($2))
            AND ($3::text[] IS NULL OR usage = ANY($3)) AND ($4::text[] IS NULL OR protection_level = ANY($4))
            AND ($5::text[] IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.resource_type = 'key' AND t.resource_id = keys.key_id AND t.tag_key = ANY($5)))
            AND ($6::text[] IS NULL OR EXISTS (SELECT 1 FROM tags t WHERE t.resource_type = 'key' AND t.resource_id = keys.key_id AND t.tag_value = ANY($6)))
            AND ($7::text[] IS NULL OR key_id = ANY($7))
            AND ($8::text[] IS NULL OR dkms_instance_id = ANY($8))";
        let c = self.client().await?;
        let instance_ids = strings(&filter.instance_ids);
        let params: [&(dyn ToSql + Sync); 8] =
            [&states, &specs, &usages, &levels, &tag_keys, &tag_values, &key_ids, &instance_ids];
        let total: i64 =
            c.query_one(&format!("SELECT COUNT(*) FROM keys {clause}"), &params).await.map_err(unavailable)?.get(0);
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM keys {clause} ORDER BY created_at, key_id LIMIT {} OFFSET {}",
            window.limit, window.offset
        );
        let rows = c.query(&sql, &params).await.map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(key_record).collect::<StoreResult<_>>()?, total: total as u64 })
    }

    async fn insert_alias(&self, alias: &AliasRecord) -> StoreResult<()> {
        let c = self.client().await?;
        c.execute(
            "INSERT INTO aliases (alias_name, key_id, created_at) VALUES ($1, $2, $3)",
            &[&alias.name.as_str(), &alias.key_id.as_str(), &alias.created_at],
        )
        .await
        .map(|_| ())
        .map_err(conflict_or_unavailable)
    }

    async fn get_alias(&self, name: &AliasName) -> StoreResult<Option<AliasRecord>> {
        let c = self.client().await?;
        let stmt = c
            .prepare_cached("SELECT alias_name, key_id, created_at FROM aliases WHERE alias_name = $1")
            .await
            .map_err(unavailable)?;
        let row = c.query_opt(&stmt, &[&name.as_str()]).await.map_err(unavailable)?;
        row.as_ref().map(alias_record).transpose()
    }

    async fn update_alias(&self, name: &AliasName, key: &KeyId) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c
            .execute("UPDATE aliases SET key_id = $2 WHERE alias_name = $1", &[&name.as_str(), &key.as_str()])
            .await
            .map_err(unavailable)?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete_alias(&self, name: &AliasName) -> StoreResult<()> {
        let c = self.client().await?;
        let n = c.execute("DELETE FROM aliases WHERE alias_name = $1", &[&name.as_str()]).await.map_err(unavailable)?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn list_aliases(&self, key: Option<&KeyId>, window: Window) -> StoreResult<Listing<AliasRecord>> {
        let c = self.client().await?;
        let key = key.map(|k| k.as_str().to_owned());
        let clause = "WHERE ($1::text IS NULL OR key_id = $1)";
        let total: i64 =
            c.query_one(&format!("SELECT COUNT(*) FROM aliases {clause}"), &[&key]).await.map_err(unavailable)?.get(0);
        let sql = format!(
            "SELECT alias_name, key_id, created_at FROM aliases {clause} ORDER BY alias_name LIMIT {} OFFSET {}",
            window.limit, window.offset
        );
        let rows = c.query(&sql, &[&key]).await.map_err(unavailable)?;
        Ok(Listing { items: rows.iter().map(alias_record).collect::<StoreResult<_>>()?, total: total as u64 })
    }
}
