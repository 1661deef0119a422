//! Sending an alert as an e-mail over SMTP with lettre, on the rustls (aws-lc-rs) already in
//! the tree: no OpenSSL. One call is one attempt on a fresh connection; retries and what is
//! recorded are the caller's (`app::alerts`). The password arrives resolved and never appears in
//! an answer or an error.

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::response::Response;
use lettre::{Message, SmtpTransport, Transport};

use super::ATTEMPT_TIMEOUT;
use crate::compute::error::{ComputeError, ErrorKind, root_cause};
use crate::model::{EmailTarget, SmtpTls};

/// One e-mail: a subject line and a plain-text body.
#[derive(Debug, Clone, Copy)]
pub struct Mail<'a> {
    pub subject: &'a str,
    pub body: &'a str,
}

fn mailbox(address: &str, role: &str) -> Result<Mailbox, ComputeError> {
    address.parse::<Mailbox>().map_err(|_| {
        ComputeError::invalid(format!(
            "the {role} address `{address}` is not an e-mail address"
        ))
    })
}

fn build_message(target: &EmailTarget, mail: Mail<'_>) -> Result<Message, ComputeError> {
    if target.to.is_empty() {
        return Err(ComputeError::invalid(
            "the e-mail target has no recipient (`to` is empty)",
        ));
    }
    let mut builder = Message::builder()
        .from(mailbox(&target.from, "from")?)
        .subject(mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .user_agent(concat!("medallion/", env!("CARGO_PKG_VERSION")).to_owned());
    for to in &target.to {
        builder = builder.to(mailbox(to, "to")?);
    }
    builder
        .body(mail.body.to_owned())
        .map_err(|e| ComputeError::invalid(format!("the alert e-mail could not be written ({e})")))
}

fn transport(target: &EmailTarget, password: Option<&str>) -> Result<SmtpTransport, ComputeError> {
    let tls = |host: &str| {
        TlsParameters::new(host.to_owned()).map_err(|e| {
            ComputeError::said(
                ErrorKind::Invalid,
                format!("TLS for {host} could not be set up ({})", root_cause(&e)),
            )
        })
    };
    let tls = match target.tls {
        SmtpTls::Starttls => Tls::Required(tls(&target.host)?),
        SmtpTls::Tls => Tls::Wrapper(tls(&target.host)?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = SmtpTransport::builder_dangerous(target.host.clone())
        .port(target.port)
        .tls(tls)
        .timeout(Some(ATTEMPT_TIMEOUT));
    match (&target.username, password) {
        (Some(user), Some(pw)) => {
            builder = builder.credentials(Credentials::new(user.clone(), pw.to_owned()));
        }
        (Some(user), None) => {
            return Err(ComputeError::invalid(format!(
                "the e-mail target names user `{user}` but no password"
            )));
        }
        (None, Some(_)) => {
            return Err(ComputeError::invalid(
                "the e-mail target has a password but no username",
            ));
        }
        (None, None) => {}
    }
    Ok(builder.build())
}

/// "SMTP 250: 2.0.0 Ok: queued".
fn describe(response: &Response) -> String {
    let words: Vec<&str> = response.message().collect();
    format!("SMTP {}: {}", response.code(), words.join(" ").trim())
}

/// An SMTP failure as a [`ComputeError`]: a 4xx answer is transient, a 5xx one is refused (535:
/// the credentials), no connection is unreachable.
fn classify(action: &str, err: &lettre::transport::smtp::Error) -> ComputeError {
    if let Some(code) = err.status() {
        let kind = if err.is_transient() {
            ErrorKind::Transient
        } else if u16::from(code) == 535 || u16::from(code) == 530 {
            ErrorKind::Denied
        } else {
            ErrorKind::Invalid
        };
        let detail = root_cause(err);
        return ComputeError::new(kind, action, format!("SMTP {code}: {}", detail.trim()));
    }
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else if err.is_tls() || err.is_response() {
        ErrorKind::Unreachable
    } else if err.is_client() {
        ErrorKind::Invalid
    } else {
        // Connection and network errors: refused, reset, no route, a name that does not resolve.
        ErrorKind::Unreachable
    };
    ComputeError::new(kind, action, root_cause(err))
}

/// Sends `mail` to the target's recipients through its SMTP server, once. Returns the server's
/// answer to the message ("SMTP 250: …"); a refusal or no answer is `Err` with a kind the
/// caller decides on ([`ErrorKind::is_retryable`]).
pub fn send_email(
    target: &EmailTarget,
    password: Option<&str>,
    mail: Mail<'_>,
) -> Result<String, ComputeError> {
    let message = build_message(target, mail)?;
    let transport = transport(target, password)?;
    let action = format!(
        "sending e-mail through {}:{} ({})",
        target.host,
        target.port,
        target.tls.as_str()
    );
    transport
        .send(&message)
        .map(|r| describe(&r))
        .map_err(|e| classify(&action, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(port: u16) -> EmailTarget {
        EmailTarget {
            host: "127.0.0.1".to_owned(),
            port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            from: "medallion@example.com".to_owned(),
            to: vec!["oncall@example.com".to_owned()],
        }
    }

    const MAIL: Mail<'static> = Mail {
        subject: "s",
        body: "b",
    };

    #[test]
    fn a_bad_address_is_refused_without_a_connection() {
        let mut t = target(9);
        t.from = "not an address".to_owned();
        let e = send_email(&t, None, MAIL).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.to_string().contains("`not an address`"), "{e}");
    }

    #[test]
    fn a_user_without_a_password_is_refused() {
        let mut t = target(9);
        t.username = Some("ops".to_owned());
        let e = send_email(&t, None, MAIL).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.to_string().contains("no password"), "{e}");
    }

    #[test]
    fn a_closed_port_is_unreachable_and_retryable() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let e = send_email(&target(port), None, MAIL).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unreachable, "{e}");
        assert!(e.kind.is_retryable());
        assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}
