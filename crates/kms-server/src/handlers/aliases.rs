//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases, ListAliasesByKeyId (spec §7.3).

use kms_store::{AliasRecord, Listing, Window};
use kms_wire::ApiError;
use kms_wire::model::*;

use super::{Ctx, Handle};

fn listing(ctx: &Ctx<'_>, page: Page, l: Listing<AliasRecord>) -> ListAliasesResponse {
    let alias = l
        .items
        .into_iter()
        .map(|a| AliasEntry {
            alias_arn: ctx.kms.alias_arn(&a.name),
            alias_name: a.name.to_string(),
            key_id: a.key_id.to_string(),
        })
        .collect();
    ListAliasesResponse { aliases: Aliases { alias }, page: PageEcho::new(page, l.total) }
}

fn window(page: Page) -> Window {
    Window { offset: page.offset(), limit: page.size }
}

/// Spec: §7.3 CreateAlias. A taken name answers `AliasAlreadyExists` (spec §5.3's table).
impl Handle for CreateAliasRequest {
    type Response = AliasChangedResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.create_alias(&self.alias_name, &self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(AliasChangedResponse {})
    }
}

/// Spec: §7.3 UpdateAlias.
impl Handle for UpdateAliasRequest {
    type Response = AliasChangedResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.update_alias(&self.alias_name, &self.key).await.map_err(|e| ctx.fail(e))?;
        Ok(AliasChangedResponse {})
    }
}

/// Spec: §7.3 DeleteAlias.
impl Handle for DeleteAliasRequest {
    type Response = AliasChangedResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        ctx.kms.delete_alias(&self.alias_name).await.map_err(|e| ctx.fail(e))?;
        Ok(AliasChangedResponse {})
    }
}

/// Spec: §7.3 ListAliases.
impl Handle for ListAliasesRequest {
    type Response = ListAliasesResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let l = ctx.kms.list_aliases(None, window(self.page)).await.map_err(|e| ctx.fail(e))?;
        Ok(listing(ctx, self.page, l))
    }
}

/// Spec: §7.3 ListAliasesByKeyId.
impl Handle for ListAliasesByKeyIdRequest {
    type Response = ListAliasesResponse;
    async fn handle(self, ctx: &Ctx<'_>) -> Result<Self::Response, ApiError> {
        let l = ctx.kms.list_aliases(Some(&self.key), window(self.page)).await.map_err(|e| ctx.fail(e))?;
        Ok(listing(ctx, self.page, l))
    }
}
