//! Following one pod's log: `GET …/pods/{pod}/log?container=main&follow=true`, one message per
//! line to the launcher's log buffer, skipping the lines it has already read (a resumed follow starts
//! from the beginning of the log, so the position is a line count).

use futures::{AsyncBufReadExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;
use tokio::sync::mpsc;

use super::job::CONTAINER;
use crate::compute::error::{ComputeError, ErrorKind};

/// What a log follower reports.
#[derive(Debug)]
pub(crate) enum LogMsg {
    Line {
        line: String,
    },
    /// The log stream ended: cleanly (`error` is `None`: the container ended, or the server
    /// closed a finished log) or not (a dropped connection, an API error).
    Ended {
        error: Option<String>,
        /// Whether the pod was known to be finished when this follow began (then a clean end
        /// means the whole log was read).
        began_after_finish: bool,
    },
}

/// Streams `pod`'s log into `tx`, skipping its first `skip` lines.
pub(crate) async fn follow_pod_log(
    api: Api<Pod>,
    pod: String,
    skip: u64,
    began_after_finish: bool,
    tx: mpsc::Sender<LogMsg>,
) {
    let params = LogParams {
        container: Some(CONTAINER.to_owned()),
        follow: true,
        ..LogParams::default()
    };
    let result: Result<(), ComputeError> = async {
        let reader = api.log_stream(&pod, &params).await.map_err(|e| {
            let e = ComputeError::from_kube(String::new(), &e);
            ComputeError::said(e.kind, e.reason())
        })?;
        let mut lines = reader.lines();
        let mut seen = 0u64;
        while let Some(line) = lines
            .try_next()
            .await
            .map_err(|e| ComputeError::said(ErrorKind::Unreachable, e.to_string()))?
        {
            seen += 1;
            if seen <= skip {
                continue;
            }
            if tx.send(LogMsg::Line { line }).await.is_err() {
                // The follower is gone (the step finished or was canceled).
                return Ok(());
            }
        }
        Ok(())
    }
    .await;
    let _ = tx
        .send(LogMsg::Ended {
            error: result.err().map(|e| e.to_string()),
            began_after_finish,
        })
        .await;
}
