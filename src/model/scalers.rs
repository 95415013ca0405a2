//! Other autoscalers that may manage a workload: VerticalPodAutoscalers and KEDA
//! ScaledObjects, kinds aiops reads beside the snapshot's objects. Plain data.

use serde::Serialize;

/// Another autoscaler that may manage a workload: a VerticalPodAutoscaler or a KEDA
/// ScaledObject (kinds aiops does not model in full).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OtherScaler {
    /// `VerticalPodAutoscaler` or `ScaledObject`.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub target_kind: String,
    pub target_name: String,
    /// VPA `spec.updatePolicy.updateMode` (`Off`, `Initial`, `Recreate`, `Auto`, `InPlaceOrRecreate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_mode: Option<String>,
}
