//! TEST DOUBLE — Lambda in front of moto. Moto's Lambda runs no code (it echoes payloads), so
//! this HTTP front plays the Lambda service for `Invoke`: it starts the REAL runner binary as a
//! Lambda runtime (`AWS_LAMBDA_RUNTIME_API` pointing at a Runtime API this double serves: one
//! `next` invocation with the payload, then `response` or `error`), and returns the function's
//! response — synchronously for `RequestResponse`, at once with 202 for `Event` while the
//! runner works on. Every other request (S3, ECS, Logs, …) is forwarded to moto unchanged —
//! except that it can answer the next N ECS `RunTask` calls with a `ThrottlingException`, as
//! AWS does under load, to prove the app retries them.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One invocation the front served.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub function: String,
    pub asynchronous: bool,
    pub request_id: String,
    pub response: String,
    pub error: bool,
}

/// The runs of the Batch executor whose jobs a `SubmitJob` waits for, when set.
pub type BatchRan = Arc<Mutex<Option<Arc<Mutex<Vec<super::aws_executor::Ran>>>>>>;

pub struct LambdaFront {
    pub url: String,
    pub invocations: Arc<Mutex<Vec<Invocation>>>,
    /// How many of the next `RunTask` calls are refused with `ThrottlingException`.
    pub throttle_run_task: Arc<AtomicUsize>,
    /// How many calls were refused so.
    pub throttled: Arc<AtomicUsize>,
    /// When set, STS `GetCallerIdentity` is refused with `AccessDenied` (as for a role
    /// without `sts:GetCallerIdentity`); every other call goes through.
    pub refuse_sts: Arc<AtomicBool>,
    /// How many `GetCallerIdentity` calls reached the front.
    pub sts_calls: Arc<AtomicUsize>,
    /// When set (to a Batch executor's runs), a `SubmitJob` is answered once that executor
    /// has run the job — see [`submit_job_after_run`].
    pub batch_ran: BatchRan,
    stop: Arc<AtomicBool>,
}

impl Drop for LambdaFront {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let mut request = Request {
        method,
        path,
        headers,
        body: Vec::new(),
    };
    if request
        .header("Expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
    {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").ok()?;
    }
    let len: usize = request
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    request.body = body;
    Some(request)
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

fn forward(moto: &str, request: &Request, client: &mut TcpStream) {
    let response = exchange(moto, request);
    let _ = client.write_all(&response);
    let _ = client.flush();
}

/// Sends `request` to moto; returns its raw HTTP response.
fn exchange(moto: &str, request: &Request) -> Vec<u8> {
    let host = moto.trim_start_matches("http://");
    let mut upstream = TcpStream::connect(host).expect("connect to moto");
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path);
    for (k, v) in &request.headers {
        if k.eq_ignore_ascii_case("connection") || k.eq_ignore_ascii_case("expect") {
            continue;
        }
        let _ = write!(head, "{k}: {v}\r\n");
    }
    head.push_str("Connection: close\r\n\r\n");
    upstream.write_all(head.as_bytes()).unwrap();
    upstream.write_all(&request.body).unwrap();
    let mut response = Vec::new();
    let _ = upstream.read_to_end(&mut response);
    response
}

/// A Batch `SubmitJob` answered only once the executor has run the job (every child of an
/// array job): moto's Batch without Docker marks a job SUCCEEDED the moment it is submitted,
/// so without this Step Functions' `batch:submitJob.sync` would go on before the container
/// ran. On AWS the job succeeds when its container exits, which this restores.
fn submit_job_after_run(
    moto: &str,
    request: &Request,
    client: &mut TcpStream,
    ran: &Mutex<Vec<super::aws_executor::Ran>>,
) {
    let response = exchange(moto, request);
    let body_at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |p| p + 4);
    let answer: serde_json::Value =
        serde_json::from_slice(&response[body_at..]).unwrap_or_default();
    let asked: serde_json::Value = serde_json::from_slice(&request.body).unwrap_or_default();
    if let Some(id) = answer["jobId"].as_str() {
        let children = asked["arrayProperties"]["size"]
            .as_u64()
            .unwrap_or(0)
            .max(1);
        let child = format!("{id}:");
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_mins(5) {
            let done = ran
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.id == id || r.id.starts_with(&child))
                .count() as u64;
            if done >= children {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let _ = client.write_all(&response);
    let _ = client.flush();
}

static REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// STS's answer to a caller not allowed `sts:GetCallerIdentity`.
const STS_ACCESS_DENIED: &str = r#"<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:GetCallerIdentity</Message></Error><RequestId>refused-by-test-front</RequestId></ErrorResponse>"#;

/// Ships a function's stdout to `/aws/lambda/<function>` as Lambda does (one stream per
/// execution environment, START/END lines around the invocation).
fn ship_logs(moto: &str, function: &str, request_id: &str, stdout: std::process::ChildStdout) {
    let rt = super::aws_executor::runtime();
    let logs = aws_sdk_cloudwatchlogs::Client::new(&super::aws_executor::sdk_config(moto));
    let group = format!("/aws/lambda/{function}");
    // One stream per execution environment: a fresh environment per invocation here.
    let stream = format!(
        "{}/[$LATEST]{:x}{:x}",
        chrono::Utc::now().format("%Y/%m/%d"),
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let _ = rt.block_on(logs.create_log_group().log_group_name(&group).send());
    rt.block_on(
        logs.create_log_stream()
            .log_group_name(&group)
            .log_stream_name(&stream)
            .send(),
    )
    .expect("create the function's log stream");
    let put = |line: String| {
        let event = aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
            .timestamp(chrono::Utc::now().timestamp_millis())
            .message(line)
            .build()
            .unwrap();
        rt.block_on(
            logs.put_log_events()
                .log_group_name(&group)
                .log_stream_name(&stream)
                .log_events(event)
                .send(),
        )
        .expect("put a log event");
    };
    put(format!("START RequestId: {request_id} Version: $LATEST"));
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        put(line);
    }
}

/// Runs the runner as a Lambda function on `payload`; returns (response body, function error).
fn run_function(moto: &str, function: &str, payload: &[u8], request_id: &str) -> (String, bool) {
    let api = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = api.local_addr().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_medallion"))
        .arg("runner")
        .envs(super::aws_executor::container_env(moto))
        .env("AWS_LAMBDA_RUNTIME_API", &addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", function)
        .env_remove("MEDALLION_WORKSPACE")
        .env_remove("MEDALLION_PLAN_URI")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the runner");
    let stdout = child.stdout.take().unwrap();
    let (moto_owned, function_owned, id_owned) =
        (moto.to_owned(), function.to_owned(), request_id.to_owned());
    let shipper = std::thread::spawn(move || {
        ship_logs(&moto_owned, &function_owned, &id_owned, stdout);
    });
    let mut served = false;
    let outcome = loop {
        let (mut conn, _) = api.accept().unwrap();
        let Some(req) = read_request(&mut conn) else {
            continue;
        };
        if req.method == "GET" && req.path.ends_with("/invocation/next") {
            if served {
                // A real environment would freeze here; the double ends the process instead.
                continue;
            }
            served = true;
            respond(
                &mut conn,
                "200 OK",
                &[
                    ("Lambda-Runtime-Aws-Request-Id", request_id.to_owned()),
                    ("Content-Type", "application/json".to_owned()),
                ],
                payload,
            );
        } else if req.path.ends_with("/response") || req.path.ends_with("/error") {
            respond(&mut conn, "202 Accepted", &[], b"{}");
            break (
                String::from_utf8_lossy(&req.body).into_owned(),
                req.path.ends_with("/error"),
            );
        } else {
            respond(&mut conn, "404 Not Found", &[], b"{}");
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let _ = shipper.join();
    outcome
}

impl LambdaFront {
    pub fn start(moto: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let invocations = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let throttle_run_task = Arc::new(AtomicUsize::new(0));
        let throttled = Arc::new(AtomicUsize::new(0));
        let refuse_sts = Arc::new(AtomicBool::new(false));
        let sts_calls = Arc::new(AtomicUsize::new(0));
        let batch_ran: BatchRan = Arc::new(Mutex::new(None));
        let batch = batch_ran.clone();
        let (moto, inv, st) = (moto.to_owned(), invocations.clone(), stop.clone());
        let (throttle, counted) = (throttle_run_task.clone(), throttled.clone());
        let (refuse, sts) = (refuse_sts.clone(), sts_calls.clone());
        std::thread::Builder::new()
            .name("test-lambda-front".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if st.load(Ordering::Relaxed) {
                        break;
                    }
                    let Ok(mut conn) = conn else { continue };
                    let (moto, inv) = (moto.clone(), inv.clone());
                    let (throttle, counted) = (throttle.clone(), counted.clone());
                    let (refuse, sts) = (refuse.clone(), sts.clone());
                    let batch = batch.lock().unwrap().clone();
                    std::thread::spawn(move || {
                        let Some(req) = read_request(&mut conn) else {
                            return;
                        };
                        if let Some(ran) = batch
                            && req.method == "POST"
                            && req.path == "/v1/submitjob"
                        {
                            submit_job_after_run(&moto, &req, &mut conn, &ran);
                            return;
                        }
                        if String::from_utf8_lossy(&req.body).contains("Action=GetCallerIdentity") {
                            sts.fetch_add(1, Ordering::SeqCst);
                            if refuse.load(Ordering::SeqCst) {
                                respond(
                                    &mut conn,
                                    "403 Forbidden",
                                    &[("Content-Type", "text/xml".to_owned())],
                                    STS_ACCESS_DENIED.as_bytes(),
                                );
                                return;
                            }
                        }
                        let run_task = req
                            .header("X-Amz-Target")
                            .is_some_and(|t| t.ends_with(".RunTask"));
                        if run_task
                            && throttle
                                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                                    n.checked_sub(1)
                                })
                                .is_ok()
                        {
                            counted.fetch_add(1, Ordering::SeqCst);
                            respond(
                                &mut conn,
                                "400 Bad Request",
                                &[("Content-Type", "application/x-amz-json-1.1".to_owned())],
                                br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
                            );
                            return;
                        }
                        let invoke = req.method == "POST"
                            && req.path.starts_with("/2015-03-31/functions/")
                            && req.path.contains("/invocations");
                        if !invoke {
                            forward(&moto, &req, &mut conn);
                            return;
                        }
                        let function = req.path["/2015-03-31/functions/".len()..]
                            .split('/')
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        let asynchronous = req.header("X-Amz-Invocation-Type") == Some("Event");
                        let request_id = format!(
                            "req-{}-{}",
                            std::process::id(),
                            REQUESTS.fetch_add(1, Ordering::Relaxed)
                        );
                        let name = function.clone();
                        let record = move |response: String, error: bool| {
                            inv.lock().unwrap().push(Invocation {
                                function: function.clone(),
                                asynchronous,
                                request_id: request_id.clone(),
                                response,
                                error,
                            });
                        };
                        let id = format!("req-{}", REQUESTS.load(Ordering::Relaxed) - 1);
                        if asynchronous {
                            respond(&mut conn, "202 Accepted", &[("x-amzn-RequestId", id)], b"");
                            let (response, error) = run_function(&moto, &name, &req.body, "async");
                            record(response, error);
                        } else {
                            let (response, error) = run_function(&moto, &name, &req.body, &id);
                            let mut headers = vec![("x-amzn-RequestId", id)];
                            if error {
                                headers.push(("X-Amz-Function-Error", "Unhandled".to_owned()));
                            }
                            respond(&mut conn, "200 OK", &headers, response.as_bytes());
                            record(response, error);
                        }
                    });
                }
            })
            .unwrap();
        std::thread::sleep(Duration::from_millis(10));
        Self {
            url,
            invocations,
            throttle_run_task,
            throttled,
            refuse_sts,
            sts_calls,
            batch_ran,
            stop,
        }
    }
}
