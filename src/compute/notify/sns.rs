//! Alerts to an Amazon SNS topic: one `Publish` of the message to the topic, with the AWS
//! settings every AWS call of Medallion uses (an `aws` resource's profile, keyring keys and
//! endpoint, else the standard chain) and the topic's own region, from its ARN. One call is one
//! attempt: the caller (`app::alerts`) retries, so the SDK does not retry on its own.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

use super::ATTEMPT_TIMEOUT;
use crate::compute::aws::sdk_config;
use crate::compute::connect::{SecretSource, block_on};
use crate::compute::error::ComputeError;
use crate::model::{Resource, TopicArn};

/// SNS's limit on a subject: 100 characters, printable ASCII with no line break.
const SUBJECT_MAX: usize = 100;

/// What one publish sends.
#[derive(Debug, Clone, Copy)]
pub struct Publish<'a> {
    pub topic_arn: &'a str,
    /// A line for e-mail subscribers (cut to SNS's 100 characters).
    pub subject: &'a str,
    pub message: &'a str,
}

/// A subject SNS takes: printable ASCII only (others become `?`), at most 100 characters.
pub fn subject(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if out.len() > SUBJECT_MAX {
        out.truncate(SUBJECT_MAX - 3);
        out.push_str("...");
    }
    out
}

/// Publishes `p` once, with `aws` (an `aws` resource, or `None` for the standard chain);
/// the answer names the message id SNS gave.
///
/// # Errors
/// A malformed topic ARN, missing credentials, a topic that does not exist or refuses the
/// caller, no connection: one sentence naming the topic.
pub fn publish(
    runtime: &tokio::runtime::Handle,
    aws: Option<&Resource>,
    secrets: &dyn SecretSource,
    p: Publish<'_>,
) -> Result<String, ComputeError> {
    let arn = TopicArn::parse(p.topic_arn)
        .map_err(|e| ComputeError::invalid(format!("topic ARN `{}` {e}", p.topic_arn)))?;
    let region = arn.region.to_owned();
    let who = aws.map_or("the standard AWS chain", |r| r.name.as_str());
    let topic = p.topic_arn.to_owned();
    let (subject, message) = (subject(p.subject), p.message.to_owned());
    block_on(runtime, async move {
        let config = sdk_config(aws, secrets, Some(region), None, who).await?;
        let client = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&config)
                .retry_config(RetryConfig::standard().with_max_attempts(1))
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(5))
                        .operation_timeout(ATTEMPT_TIMEOUT)
                        .build(),
                )
                .build(),
        );
        let out = client
            .publish()
            .topic_arn(&topic)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map_err(|e| ComputeError::from_sdk(format!("publishing to SNS topic {topic}"), &e))?;
        Ok(match out.message_id() {
            Some(id) => format!("SNS accepted message {id}"),
            None => "SNS accepted the message".to_owned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_printable_ascii_of_at_most_100_characters() {
        assert_eq!(subject("[Medallion] run failed"), "[Medallion] run failed");
        assert_eq!(subject("a\nb — c"), "a?b ? c");
        let long = subject(&"x".repeat(150));
        assert_eq!(long.len(), 100);
        assert!(long.ends_with("..."));
    }

    #[test]
    fn a_malformed_topic_arn_is_refused_before_any_call() {
        struct NoSecrets;
        impl SecretSource for NoSecrets {
            fn secret(&self, _: &crate::model::SecretRef) -> Result<String, ComputeError> {
                Err(ComputeError::invalid("no secret is read"))
            }
        }
        let e = publish(
            &crate::compute::connect::test_runtime(),
            None,
            &NoSecrets,
            Publish {
                topic_arn: "arn:aws:sqs:eu-west-1:123456789012:q",
                subject: "s",
                message: "m",
            },
        )
        .unwrap_err();
        assert_eq!(e.kind, crate::compute::ErrorKind::Invalid);
        assert!(e.to_string().contains("names service `sqs`"), "{e}");
    }
}
