//! What a pod's status says about its health, read the same way everywhere: the
//! "unhealthy" predicate that decides which pods `diagnose --all-unhealthy`, the health
//! report and live diagnosis look at, and the small status accessors it rests on. Pure.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, ContainerStatus, Pod};

/// Waiting reasons that are errors (not a normal step of starting).
pub const ERROR_WAITING: &[&str] = &[
    "CrashLoopBackOff",
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "ImageInspectError",
    "RegistryUnavailable",
    "SignatureValidationFailed",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "PreCreateHookError",
    "PreStartHookError",
    "PostStartHookError",
];

pub fn secs_since(t: Option<Timestamp>, now: Timestamp) -> Option<i64> {
    t.map(|t| now.as_second() - t.as_second())
}

pub fn condition<'a>(pod: &'a Pod, kind: &str) -> Option<&'a k8s_openapi::api::core::v1::PodCondition> {
    pod.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == kind)
}

pub fn last_terminated(st: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    st.state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .or_else(|| st.last_state.as_ref().and_then(|s| s.terminated.as_ref()))
}

pub fn waiting(st: &ContainerStatus) -> Option<(&str, &str)> {
    let w = st.state.as_ref()?.waiting.as_ref()?;
    Some((w.reason.as_deref().unwrap_or(""), w.message.as_deref().unwrap_or("")))
}

/// A container is failing when it waits on an error, its current run ended with a
/// non-zero code (or it is an app container that keeps exiting), it restarted in the last
/// hour, or it keeps failing (3+ restarts, the last one in the last day).
pub fn container_failing(st: &ContainerStatus, init: bool, now: Timestamp) -> bool {
    if waiting(st).is_some_and(|(r, _)| ERROR_WAITING.contains(&r)) {
        return true;
    }
    if let Some(t) = st.state.as_ref().and_then(|s| s.terminated.as_ref())
        && (t.exit_code != 0 || !init)
    {
        return t.exit_code != 0;
    }
    if st.restart_count > 0
        && let Some(t) = st.last_state.as_ref().and_then(|s| s.terminated.as_ref())
    {
        // Restarted in the last hour, or a recurring failure (3+ restarts) in the last day.
        let ago = secs_since(t.finished_at.as_ref().map(|f| f.0), now);
        let recent =
            ago.is_none_or(|s| s < 3600 || (st.restart_count >= 3 && t.exit_code != 0 && s < 86_400));
        let running_ready = st.ready && st.state.as_ref().is_some_and(|s| s.running.is_some());
        return recent || !running_ready;
    }
    false
}

/// Is a pod unhealthy: failed, stuck pending or terminating, a container waiting on an
/// error or restarted in the last hour, or running but not ready for over 5 minutes.
pub fn is_unhealthy(pod: &Pod, now: Timestamp) -> bool {
    let Some(status) = pod.status.as_ref() else { return false };
    let phase = status.phase.as_deref().unwrap_or("");
    if phase == "Succeeded" {
        return false;
    }
    if phase == "Failed" || phase == "Unknown" {
        return true;
    }
    if let Some(d) = pod.metadata.deletion_timestamp.as_ref() {
        let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(30);
        if now.as_second() - d.0.as_second() > grace + 120 {
            return true;
        }
    }
    for (init, list) in [(true, &status.init_container_statuses), (false, &status.container_statuses)] {
        if list.iter().flatten().any(|st| container_failing(st, init, now)) {
            return true;
        }
    }
    let age = secs_since(pod.metadata.creation_timestamp.as_ref().map(|t| t.0), now).unwrap_or(i64::MAX);
    if phase == "Pending" {
        return age > 120;
    }
    if phase == "Running" {
        let not_ready = condition(pod, "Ready").is_some_and(|c| c.status != "True");
        let since = condition(pod, "Ready")
            .and_then(|c| secs_since(c.last_transition_time.as_ref().map(|t| t.0), now));
        return not_ready && since.unwrap_or(age) > 300;
    }
    false
}
