//! SNS resource kinds.

pub mod topic;
pub mod topic_policy;

use crate::kit::{Adapter, Kind};
use async_trait::async_trait;
use deployctl_engine::{Observed, OpCtx, Props, ProviderError, ReadCtx, ResourceKind};
use deployctl_spec::KindSchema;
use std::sync::Arc;

/// A kind whose natural key has a default (`<stack>-<address>` when the
/// spec names none) or is not its id (a topic's name versus its ARN), so
/// that `kit::Adopt::ByName`, which looks up only a key written in the spec
/// and read as the id, cannot find it. Used by `sns.topic` and
/// `cloudwatch.alarm`; a stand-in until the toolkit lets a kind give its
/// own lookup.
#[async_trait]
pub trait FindExisting: Kind {
    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError>;
}

/// [`Adapter`] with the kind's own [`FindExisting`]; everything else is
/// the adapter's.
pub struct WithLookup<K>(pub Adapter<K>);

impl<K: FindExisting> WithLookup<K> {
    pub fn arc(kind: K) -> Arc<dyn ResourceKind> {
        Arc::new(WithLookup(Adapter(kind)))
    }
}

#[async_trait]
impl<K: FindExisting> ResourceKind for WithLookup<K> {
    fn schema(&self) -> &'static KindSchema {
        self.0.schema()
    }
    async fn read(&self, ctx: &ReadCtx, ids: &[String]) -> Result<Vec<Observed>, ProviderError> {
        self.0.read(ctx, ids).await
    }
    async fn find_tagged(&self, ctx: &ReadCtx) -> Result<Vec<(String, Observed)>, ProviderError> {
        self.0.find_tagged(ctx).await
    }
    async fn find_existing(
        &self,
        ctx: &ReadCtx,
        wanted: &[(String, Props)],
    ) -> Result<Vec<(String, Observed)>, ProviderError> {
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        self.0 .0.find_existing(ctx, wanted).await
    }
    async fn create(&self, ctx: &OpCtx, desired: &Props) -> Result<Observed, ProviderError> {
        self.0.create(ctx, desired).await
    }
    async fn update(
        &self,
        ctx: &OpCtx,
        current: &Observed,
        desired: &Props,
        changed: &[String],
    ) -> Result<Observed, ProviderError> {
        self.0.update(ctx, current, desired, changed).await
    }
    async fn delete(&self, ctx: &OpCtx, current: &Observed, recorded: &Props) -> Result<(), ProviderError> {
        self.0.delete(ctx, current, recorded).await
    }
    async fn resume(&self, ctx: &OpCtx, current: &Observed) -> Result<Observed, ProviderError> {
        self.0.resume(ctx, current).await
    }
}
