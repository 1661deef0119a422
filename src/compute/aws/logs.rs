//! Tailing `CloudWatch` Logs from a saved position: the awslogs driver (Fargate, Batch) ships
//! the runner's stdout here, one event per line. A stream that does not exist yet (the task is
//! still starting) reads as no lines; the next read tries again.

use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;

use super::Aws;
use crate::compute::error::ComputeError;
use crate::compute::launch::LogRead;

/// Pages read per call at most (each up to 10,000 events or 1 MB).
const MAX_PAGES: usize = 20;

/// New lines of `group`/`stream` after `position` (a forward token), and the next position.
pub fn read_stream(
    aws: &Aws,
    group: &str,
    stream: &str,
    position: Option<&str>,
) -> Result<LogRead, ComputeError> {
    let client = aws.logs();
    let (group, stream) = (group.to_owned(), stream.to_owned());
    let mut token = position.map(str::to_owned);
    aws.block(async move {
        let mut lines = Vec::new();
        for _ in 0..MAX_PAGES {
            let page = client
                .get_log_events()
                .log_group_name(&group)
                .log_stream_name(&stream)
                .start_from_head(true)
                .set_next_token(token.clone())
                .send()
                .await;
            let page = match page {
                Ok(p) => p,
                Err(e) if e.code() == Some("ResourceNotFoundException") => break,
                Err(e) => {
                    return Err(ComputeError::from_sdk(
                        format!("reading log stream {stream} of {group}"),
                        &e,
                    ));
                }
            };
            for event in page.events() {
                if let Some(m) = event.message() {
                    lines.extend(m.lines().map(str::to_owned));
                }
            }
            let next = page.next_forward_token().map(str::to_owned);
            // The end is reached when the forward token stops changing.
            let done = next.is_none() || next == token || page.events().is_empty();
            if next.is_some() {
                token = next;
            }
            if done {
                break;
            }
        }
        Ok(LogRead {
            lines,
            position: token,
        })
    })
}
