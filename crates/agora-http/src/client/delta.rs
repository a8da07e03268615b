//! Starting a master-data delta: the call, its retries and "no results";
//! the records are then read by [`crate::stream`].

use agora_domain::ReadLenient;
use agora_domain::routes::{Route, delta_path_date};
use agora_ports::{AgoraError, DeltaQuery, DeltaSummary, Records, VecRecords};
use serde::de::DeserializeOwned;

use super::{AgoraClient, Call};

impl AgoraClient {
    /// Starts a delta of `route` (one of the two master-data routes).
    pub(crate) async fn delta<T>(
        &self,
        route: Route,
        query: DeltaQuery,
    ) -> Result<Records<T>, AgoraError>
    where
        T: DeserializeOwned + ReadLenient + Send + 'static,
    {
        let language = query.language.path_name().ok_or_else(|| {
            AgoraError::Config(format!(
                "LCID {} has no master-data language name",
                query.language
            ))
        })?;
        let path = route
            .path()
            .replace("{ManufacturerId}", &query.manufacturer.to_string())
            .replace("{Date}", &delta_path_date(query.since))
            .replace("{Language}", language);
        let call = Call {
            route,
            idempotent: route.is_idempotent(),
            url: std::borrow::Cow::Owned(self.url(&path, &[])),
            body: None,
        };
        let deadline = tokio::time::Instant::now() + self.config.limits.delta_deadline;
        let resp = match self
            .with_retries(&call, |resp| std::future::ready(Ok(resp)))
            .await
        {
            Ok(resp) => resp,
            // "No results match your request" (5.3.3): an empty delta.
            Err(AgoraError::NotFound(said)) if route.no_results_is_empty() => {
                return Ok(Box::new(VecRecords::new(
                    Vec::new(),
                    1,
                    DeltaSummary {
                        records: 0,
                        message: said.message,
                        ..DeltaSummary::default()
                    },
                )));
            }
            Err(error) => return Err(error),
        };
        Ok(crate::stream::records(route, resp, deadline, &self.config))
    }
}
